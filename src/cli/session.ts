/**
 * One CLI login: the mode stack, the role, paging, the line discipline, and
 * the running of commands (CLI contract, "Session and modes"). Transport-free:
 * the SSH and TCP adapters give it bytes and a write function.
 *
 * Concurrency: commands of one session run one at a time, in the order they
 * were typed; input that arrives while a command runs waits in a bounded
 * queue. Sessions are independent of each other. A session never keeps a Box:
 * it looks its box up in the Cluster for every command and prompt, because a
 * reload replaces the Box object.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Cluster } from '../device/cluster.js';
import { toDeviceError } from '../device/errors.js';
import type { Actor, Role } from '../device/roles.js';
import { MAX_PEM_BYTES } from '../device/limits.js';
import type { Logger } from '../lib/logger.js';
import { silentLogger } from '../lib/logger.js';
import { COMMAND_TREES } from './commands/index.js';
import { LineEditor, type EditorEvent } from './line-editor.js';
import { complete, helpLines, modeHint, parseCommand } from './parser.js';
import { splitLines, tokenize } from './tokenizer.js';
import type { CommandContext, CommandOutput, Mode, ModeTrees, TerminalControl, TreeNode } from './tree.js';

/**
 * The longest line kept (bytes): a 64 KiB PEM value plus room for the command around it.
 * EMULATION: the 4 KiB of slack and the texts "% Line too long (max N bytes)." and
 * "% PEM value too long (max 65536 bytes); ..." are ours.
 */
export const MAX_LINE_BYTES = MAX_PEM_BYTES + 4096;
/** Input queued while a command runs, at most (characters); more is dropped with a notice (EMULATION: bound and text ours). */
export const MAX_PENDING_CHARS = 4 * 1024 * 1024;
/** EMULATION: rows of a terminal that did not say (OpenSSH -tt without a local terminal sends 0). */
const DEFAULT_ROWS = 24;
/**
 * EMULATION: `cli session terminal length 999` turns paging off (CLI
 * contract); we read any length of 999 as "no paging", like length 0.
 */
const NO_PAGING_LENGTH = 999;

/** What a session is made of. `write` gets text ready for the wire (CR LF on a pty). */
export interface SessionOptions {
  cluster: Cluster;
  /** The box the user logged in to. */
  boxId: number;
  user: string;
  role: Role;
  /** Where the session comes from, for the audit log, e.g. "ssh 127.0.0.1:51234". */
  source: string;
  /**
   * True for a pty: echo, line editing, `?` at once, CR LF output, paging on
   * by default. False for a shell without pty, raw TCP and exec channels.
   */
  interactive: boolean;
  cols?: number;
  rows?: number;
  /** The first mode: standard after a login (default); exec channels start in enable. */
  startMode?: 'standard' | 'enable';
  write(text: string): void;
  /** Called once when the session ends by itself (`exit`, end of input). Not called after end(). */
  close(): void;
  logger?: Logger;
  /** The command trees; tests may give their own. */
  trees?: ModeTrees;
}

/**
 * A CLI session. Feed it input with input(), tell it about end of input
 * (inputEnd) and a vanished peer (end); it writes prompts and output through
 * its write function and calls close() once when it ends by itself. For exec
 * channels use runOnce(). See the module comment for ordering and bounds.
 */
export class Session implements TerminalControl {
  private readonly o: SessionOptions;
  private readonly trees: ModeTrees;
  private readonly log: Logger;
  private readonly actor: Actor;
  private readonly editor: LineEditor;
  private readonly decoder = new StringDecoder('utf8');
  private modes: Mode[];
  private pending = '';
  private pos = 0;
  private pumping = false;
  /** A command is running; input waits. */
  private busy = false;
  private pager: { lines: string[]; pos: number; skipLf: boolean; marker: string } | undefined;
  /** The key that ended the pager was CR: a LF right after it belongs to it. */
  private skipLfAfterPager = false;
  private closing = false;
  private closed = false;
  private inputEnded = false;
  private droppedInput = false;
  /** `cli session paging`: undefined = the box's default (`cli default paging enable`), read at each command. */
  private pagingOn: boolean | undefined;
  private length: number | undefined;
  private rows: number;
  private cols: number;
  private termType = 'vt100';
  private lastHostname = 'gigavue';
  private errorCount = 0;

  constructor(o: SessionOptions) {
    this.o = o;
    this.trees = o.trees ?? COMMAND_TREES;
    this.log = o.logger ?? silentLogger;
    // EMULATION: the role is fixed at login; a capability change applies from the next login.
    this.actor = { user: o.user, role: o.role, source: o.source };
    this.modes = o.startMode === 'enable' ? ['standard', 'enable'] : ['standard'];
    this.rows = o.rows && o.rows > 0 ? o.rows : DEFAULT_ROWS;
    this.cols = o.cols && o.cols > 0 ? o.cols : 80;
    this.editor = new LineEditor({
      interactive: o.interactive,
      maxLineBytes: MAX_LINE_BYTES,
      cols: this.cols,
    });
  }

  // ---------------------------------------------------------------- transport side

  /** Print the first prompt. */
  start(): void {
    this.showPrompt();
  }

  /** Bytes from the user. Safe to call at any time, with any content; ignored once the session ended. */
  input(chunk: Buffer | string): void {
    if (this.closed) return;
    const s = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    if (this.pending.length - this.pos + s.length > MAX_PENDING_CHARS) {
      // Typed far ahead of a running command: drop rather than grow without bound.
      if (!this.droppedInput)
        this.write(`\n% Input discarded: more than ${MAX_PENDING_CHARS} characters typed ahead.\n`);
      this.droppedInput = true;
      return;
    }
    this.pending += s;
    this.pump();
  }

  /** The user sent end of input: finish what was typed (a last line without newline runs), then close. */
  inputEnd(): void {
    if (this.closed) return;
    this.inputEnded = true;
    this.pending += this.decoder.end();
    this.pump();
  }

  /** The peer went away: stop at once. A running command completes but prints nothing. */
  end(): void {
    this.closed = true;
    this.pager = undefined;
  }

  /** The terminal's new size (window-change). */
  resize(cols: number, rows: number): void {
    if (rows > 0) this.rows = rows;
    if (!(cols > 0) || this.closed) return;
    this.cols = cols;
    // The line being typed is redrawn for the new width, unless output is on the screen now.
    this.editor.resize(cols, !this.busy && !this.pager);
    this.flushEcho();
  }

  /**
   * Run a script (an exec channel's command: one or more lines) and return
   * its output without prompts and without paging. Serialised with the rest
   * of the session's work.
   */
  async runOnce(text: string): Promise<string> {
    while (this.busy) await new Promise((r) => setImmediate(r));
    this.busy = true;
    const out: string[] = [];
    try {
      if (Buffer.byteLength(text) > MAX_LINE_BYTES) {
        this.errorCount++;
        out.push(`% Line too long (max ${MAX_LINE_BYTES} bytes).`);
      } else {
        for (const line of splitLines(text)) {
          if (this.closing || this.closed) break;
          const help = this.helpRequest(line);
          // What a command says before it finishes (reload) goes into the same output, in order.
          out.push(
            ...(help ?? (await this.execute(line, (s) => out.push(...s.replace(/\n$/, '').split('\n'))))),
          );
        }
      }
    } finally {
      this.busy = false;
    }
    const text2 = out.length ? out.join('\n') + '\n' : '';
    return this.o.interactive ? text2.replace(/\n/g, '\r\n') : text2;
  }

  /** Number of commands that failed (errors printed) so far: exec channels exit 1 when non-zero. */
  get failures(): number {
    return this.errorCount;
  }

  /** True once the session has ended (exit, end of input, or end()). */
  get ended(): boolean {
    return this.closed;
  }

  /** Resolves when no command runs and no input waits, or the session has ended (tests). */
  async idle(): Promise<void> {
    while (!this.closed && (this.busy || this.pos < this.pending.length))
      await new Promise((r) => setImmediate(r));
  }

  // ---------------------------------------------------------------- TerminalControl

  get mode(): Mode {
    return this.modes[this.modes.length - 1]!;
  }

  enter(mode: Mode): void {
    if (this.mode !== mode) this.modes.push(mode);
  }

  exit(): void {
    if (this.modes.length > 1) this.modes.pop();
    else this.closing = true;
  }

  logout(): void {
    this.closing = true;
  }

  toEnable(): void {
    if (this.mode === 'config') this.modes = ['standard', 'enable'];
  }

  setPaging(on: boolean): void {
    this.pagingOn = on;
  }

  setLength(lines: number): void {
    this.length = lines;
  }

  setType(type: string): void {
    this.termType = type;
  }

  /** The session's history (`show history`). */
  get history(): readonly string[] {
    return this.editor.history;
  }

  /** The terminal type set with `cli session terminal type` (informational). */
  get terminalType(): string {
    return this.termType;
  }

  /** The prompt for the current mode, with the hostname read from the box now. */
  prompt(): string {
    try {
      this.lastHostname = this.o.cluster.get(this.o.boxId).hostname;
    } catch {
      // The box is being reloaded; keep the last name seen.
    }
    const h = this.lastHostname;
    return this.mode === 'standard' ? `${h} > ` : this.mode === 'enable' ? `${h} # ` : `${h} (config) # `;
  }

  // ---------------------------------------------------------------- input processing

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && !this.busy && this.pos < this.pending.length) {
        const cp = this.pending.codePointAt(this.pos)!;
        const ch = String.fromCodePoint(cp);
        this.pos += ch.length;
        if (this.pager) {
          this.pagerKey(ch);
          continue;
        }
        if (this.skipLfAfterPager) {
          this.skipLfAfterPager = false;
          if (ch === '\n') continue;
        }
        const ev = this.editor.feed(ch);
        if (ev) this.handle(ev);
      }
      if (this.pos >= this.pending.length) {
        this.pending = '';
        this.pos = 0;
      } else if (this.pos > 65536) {
        this.pending = this.pending.slice(this.pos);
        this.pos = 0;
      }
    } finally {
      this.pumping = false;
    }
    this.flushEcho();
    if (this.inputEnded && !this.busy && !this.closed && this.pos >= this.pending.length) this.finishInput();
  }

  private flushEcho(): void {
    const e = this.editor.takeEcho();
    if (e) this.writeRaw(e);
  }

  private handle(ev: EditorEvent): void {
    this.flushEcho();
    switch (ev.type) {
      case 'line': {
        // EMULATION: without a pty nothing is echoed, but the end of line is, so that
        // output never starts on the prompt's line.
        this.write('\n');
        const help = this.o.interactive ? undefined : this.helpRequest(ev.text);
        if (help) {
          this.write(help.join('\n') + '\n');
          this.showPrompt();
          return;
        }
        this.runLine(ev.text);
        return;
      }
      case 'help':
        this.write(
          '\n' + helpLines(ev.text, this.trees[this.mode], this.o.role, this.valuesOf).join('\n') + '\n',
        );
        this.redrawLine();
        return;
      case 'complete': {
        const c = complete(ev.text, this.trees[this.mode], this.o.role, this.valuesOf);
        if (c.append) {
          this.editor.insert(c.append);
          // Without a pty the client does not see our echo, but it should see what Tab added.
          if (!this.o.interactive) this.write(c.append);
        } else if (c.choices.length > 0) {
          this.editor.toEndOfLine();
          this.flushEcho();
          this.write('\n' + columns(c.choices, this.cols).join('\n') + '\n');
          this.redrawLine();
        }
        return;
      }
      case 'cancel':
        this.write((this.o.interactive ? '^C' : '') + '\n');
        this.showPrompt();
        return;
      case 'suspend':
        this.toEnable();
        this.write((this.o.interactive ? '^Z' : '') + '\n');
        this.showPrompt();
        return;
      case 'overflow':
        this.errorCount++;
        this.write(
          '\n' +
            (ev.inQuote
              ? `% PEM value too long (max ${MAX_PEM_BYTES} bytes); the command was discarded.`
              : `% Line too long (max ${MAX_LINE_BYTES} bytes).`) +
            '\n',
        );
        this.showPrompt();
        return;
    }
  }

  /**
   * For input without a pty: a line ending in an unquoted `?` asks for help
   * instead of running (EMULATION: a pty answers `?` at once; a line-mode
   * client can only send it with the line).
   */
  private helpRequest(line: string): string[] | undefined {
    const t = tokenize(line);
    const last = t.tokens[t.tokens.length - 1];
    if (t.openQuote || !last || last.quoted || t.trailingSpace || !last.text.endsWith('?')) return undefined;
    return helpLines(line.slice(0, last.end - 1), this.trees[this.mode], this.o.role, this.valuesOf);
  }

  /**
   * The existing values of a parameter (certificate names, users, SNMP hosts...) on the session's box,
   * for Tab and `?`; none while the box is being reloaded.
   * EMULATION: the names come from the session's own box even when the line names another by box-id.
   */
  private readonly valuesOf = (param: TreeNode): readonly string[] => {
    if (!param.values) return [];
    try {
      return param.values(this.o.cluster.get(this.o.boxId));
    } catch {
      return [];
    }
  };

  private runLine(text: string): void {
    this.busy = true;
    void this.execute(text).then((lines) => this.afterCommand(lines));
  }

  private afterCommand(lines: string[]): void {
    this.busy = false;
    if (this.closed) return;
    const page = this.pageSize();
    if (lines.length > page) {
      this.pager = { lines, pos: 0, skipLf: false, marker: '' };
      this.showPage(page);
      // Keys typed ahead answer the pager.
      this.pump();
      return;
    }
    if (lines.length > 0) this.write(lines.join('\n') + '\n');
    this.nextPrompt();
  }

  private nextPrompt(): void {
    if (this.closing) {
      this.close();
      return;
    }
    this.showPrompt();
    this.pump();
  }

  /**
   * Run one line; never rejects. Returns the output lines (errors included).
   * `say` receives what the command prints before it finishes (default: written at once).
   */
  private async execute(text: string, say: (s: string) => void = (s) => this.write(s)): Promise<string[]> {
    const r = parseCommand(text, this.trees[this.mode], this.o.role);
    if (r.kind === 'empty') return [];
    if (r.kind === 'error') {
      this.errorCount++;
      const hint = r.lines[0]?.startsWith('% Unrecognized')
        ? modeHint(text, this.trees, this.mode, this.o.role)
        : undefined;
      // The hint replaces 'Type "?" for help.': the error line itself stays as collectors match it.
      return hint ? [r.lines[0]!, hint] : r.lines;
    }
    const { cluster, boxId } = this.o;
    const ctx: CommandContext = {
      actor: this.actor,
      cluster,
      boxId,
      box: () => cluster.get(boxId),
      target: (a) => cluster.get(a.optInt('box-id') ?? boxId),
      terminal: this,
      say: (s) => say(s.endsWith('\n') ? s : s + '\n'),
    };
    try {
      return toLines(await r.command.run(ctx, r.args));
    } catch (err) {
      this.errorCount++;
      const e = toDeviceError(err);
      if (e.code === 'internal')
        this.log.error('command failed', {
          command: r.command.syntax,
          err: (err as Error)?.stack ?? String(err),
        });
      // The contract: errors are one line.
      return [`% ${e.message.replace(/[\r\n]+/g, ' ')}`];
    }
  }

  // ---------------------------------------------------------------- paging

  /** Lines per page, or Infinity when paging is off (never without a pty). */
  private pageSize(): number {
    if (!(this.pagingOn ?? this.defaultPaging()) || !this.o.interactive) return Infinity;
    const len = this.length ?? this.rows;
    if (len <= 0 || len >= NO_PAGING_LENGTH) return Infinity;
    // One row is kept for the pager line.
    return Math.max(1, len - 1);
  }

  /**
   * The box's saved default, `[no] cli default paging enable` (on while the box is being reloaded).
   * EMULATION: the default applies to every session that has not set its own `cli session paging`,
   * from the next command on (the framework documents it for new sessions only).
   */
  private defaultPaging(): boolean {
    try {
      return this.o.cluster.get(this.o.boxId).config.cliPaging !== false;
    } catch {
      return true;
    }
  }

  /**
   * Show the next `n` lines and the framework's pager line: `lines 1-23`
   * while there is more, `lines 24-30/30 (END)` on the last page, which waits
   * for one more key (as the framework's pager does) before the prompt.
   */
  private showPage(n: number, single = false): void {
    const p = this.pager!;
    const chunk = p.lines.slice(p.pos, p.pos + n);
    const first = single ? Math.max(1, p.pos + chunk.length - this.pageSize() + 1) : p.pos + 1;
    p.pos += chunk.length;
    if (chunk.length > 0) this.write(chunk.join('\n') + '\n');
    p.marker =
      p.pos < p.lines.length ? `lines ${first}-${p.pos}` : `lines ${first}-${p.pos}/${p.lines.length} (END)`;
    this.writeRaw(p.marker);
  }

  private pagerKey(ch: string): void {
    const p = this.pager!;
    if (p.skipLf) {
      p.skipLf = false;
      if (ch === '\n') return;
    }
    // EMULATION: space shows the next page, Enter one more line, q or Ctrl-C stops, any other key is
    // space; at (END) any key ends. The pager line is erased before what follows.
    this.writeRaw('\r' + ' '.repeat(p.marker.length) + '\r');
    if (ch === 'q' || ch === 'Q' || ch === '\x03' || p.pos >= p.lines.length) {
      this.pager = undefined;
      if (ch === '\r') this.skipLfAfterPager = true;
      this.nextPrompt();
    } else if (ch === '\r' || ch === '\n') {
      p.skipLf = ch === '\r';
      this.showPage(1, true);
    } else {
      this.showPage(this.pageSize());
    }
  }

  // ---------------------------------------------------------------- output and end

  /** Write the prompt on a fresh line; the editor draws from after it. */
  private showPrompt(): void {
    const p = this.prompt();
    this.write(p);
    this.editor.setPrompt(p);
  }

  /** Write the prompt and the line being typed, cursor in place (after a `?` listing or Tab's choices). */
  private redrawLine(): void {
    const p = this.prompt();
    this.editor.redrawAfter(p);
    const e = this.editor.takeEcho();
    this.writeRaw(this.o.interactive ? e : p + this.editor.text);
  }

  private finishInput(): void {
    if (this.editor.quoting) {
      this.editor.reset();
      this.errorCount++;
      this.write('\n% Missing closing quote: the command was discarded at the end of input.\n');
    } else if (this.editor.discarding) {
      this.editor.reset();
      this.errorCount++;
      this.write(`\n% Line too long (max ${MAX_LINE_BYTES} bytes).\n`);
    } else if (this.editor.text.trim() !== '') {
      // The last line had no end of line: run it, then come back here to close.
      const text = this.editor.text;
      this.editor.reset();
      this.write('\n');
      this.runLine(text);
      return;
    }
    if (this.pager) {
      // Nobody is left to press a key: print the rest.
      const p = this.pager;
      this.pager = undefined;
      this.write(p.lines.slice(p.pos).join('\n') + '\n');
    }
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.o.close();
  }

  /** Write text with LF line ends, converted to CR LF on a pty. */
  private write(text: string): void {
    this.writeRaw(this.o.interactive ? text.replace(/\n/g, '\r\n') : text);
  }

  private writeRaw(text: string): void {
    if (this.closed || text === '') return;
    try {
      this.o.write(text);
    } catch (err) {
      // The transport is gone; the session ends quietly.
      this.log.debug('session write failed', { err: (err as Error).message });
      this.end();
    }
  }
}

/** Lay words out in columns that fit `width` (Tab's list of choices). */
function columns(words: readonly string[], width: number): string[] {
  const cell = Math.max(...words.map((w) => w.length)) + 2;
  const perLine = Math.max(1, Math.floor((width - 2) / cell));
  const lines: string[] = [];
  for (let i = 0; i < words.length; i += perLine) {
    lines.push(
      (
        '  ' +
        words
          .slice(i, i + perLine)
          .map((w) => w.padEnd(cell))
          .join('')
      ).trimEnd(),
    );
  }
  return lines;
}

function toLines(out: CommandOutput): string[] {
  if (out === undefined || out === '') return [];
  const lines = Array.isArray(out) ? out : [out];
  return lines.flatMap((l) => l.split('\n'));
}
