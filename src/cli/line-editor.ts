/**
 * The line discipline of a CLI session, as a state machine with no I/O: it
 * takes characters one at a time and says when a line is ready, when `?` or
 * Tab asks for help, and what to write to the terminal.
 *
 * Interactive (a pty): typed characters are echoed and the line is edited as
 * in any network CLI (CLI contract, "Session and modes"):
 *
 * | key                                   | does                                         |
 * | ------------------------------------- | -------------------------------------------- |
 * | Left, Ctrl-B / Right, Ctrl-F          | cursor one character left / right            |
 * | Home, Ctrl-A / End, Ctrl-E            | cursor to the start / end of the line        |
 * | Esc b / Esc f                         | cursor one word left / right                 |
 * | Up, Ctrl-P / Down, Ctrl-N             | previous / next line of the session history  |
 * | Backspace (BS or DEL)                 | erase before the cursor                      |
 * | Delete (ESC[3~), Ctrl-D               | erase under the cursor (nothing when empty)  |
 * | Ctrl-W / Ctrl-U / Ctrl-K              | erase the word before / all before / all after the cursor |
 * | Ctrl-L                                | clear the screen and redraw the line         |
 * | `?`, Tab                              | help, completion of the text before the cursor |
 * | Ctrl-C / Ctrl-Z                       | abandon the line / `end`                     |
 *
 * Arrows and Home/End are read in every form common terminals send: CSI
 * (`ESC [ A`, xterm, PuTTY, screen/tmux), SS3 (`ESC O A`, application cursor
 * mode, vt100), with modifiers (`ESC [ 1 ; 5 C`), and Home/End as `ESC [ H`
 * / `ESC [ F`, `ESC [ 1 ~` / `ESC [ 4 ~` (PuTTY, screen) and `ESC [ 7 ~` /
 * `ESC [ 8 ~` (rxvt). Unknown sequences are swallowed whole; a sequence may
 * arrive split over any number of feeds.
 *
 * A line wider than the terminal wraps; every edit away from the end of the
 * line redraws it from the prompt (the editor knows the prompt and the width,
 * see setPrompt and resize), so the screen and the buffer agree after a
 * window-change too.
 *
 * Not interactive (no pty, raw TCP, exec): nothing is echoed, `?` is an
 * ordinary character (the session reads a trailing `?` as a help request),
 * editing keys other than Backspace and Ctrl-U are ignored and escape
 * sequences are swallowed, as before: a piped script means what it says.
 *
 * Both: a line ends at CR or LF (CR LF counts once); inside a quoted value an
 * end of line is part of the value (a PEM spans lines), the command ends at
 * the closing quote (CLI contract). Lines that run are kept in a history of
 * at most `historySize` entries (oldest dropped); a line spanning several
 * lines (a PEM value) is never kept.
 *
 * Bounds: a line longer than `maxLineBytes` is discarded as it arrives (never
 * stored); when it ends the editor reports `overflow`. A quoted value that
 * overflows is discarded up to its closing quote, so the rest of a long PEM
 * is not read as commands. An escape sequence longer than 32 bytes ends.
 */

/** What the editor asks its session to do. What to write is collected separately (takeEcho). */
export type EditorEvent =
  | { type: 'line'; text: string }
  | { type: 'help'; text: string }
  | { type: 'complete'; text: string }
  | { type: 'cancel' }
  | { type: 'suspend' }
  | { type: 'overflow'; inQuote: boolean };

/** `interactive`: a pty (echo, editing, `?` at once); `maxLineBytes`: the longest line kept. */
export interface LineEditorOptions {
  interactive: boolean;
  maxLineBytes: number;
  /** Lines kept in the history (default HISTORY_SIZE). */
  historySize?: number;
  /** The terminal's width in columns (default 80). */
  cols?: number;
}

/** EMULATION: the framework's history depth is not documented; 100 lines per session. */
const HISTORY_SIZE = 100;
/** Longest escape sequence read (bytes after ESC); longer ones end there (a garbage guard). */
const MAX_ESCAPE = 32;

type EscState = 'none' | 'esc' | 'csi' | 'ss3';

/** One editing action, whatever key produced it. */
type Action =
  | 'left'
  | 'right'
  | 'home'
  | 'end'
  | 'wordLeft'
  | 'wordRight'
  | 'up'
  | 'down'
  | 'backspace'
  | 'delete'
  | 'eof'
  | 'killWord'
  | 'killBefore'
  | 'killAfter'
  | 'redraw';

/** Control keys of an interactive session. */
const CONTROL_KEYS: Readonly<Record<number, Action>> = {
  0x01: 'home', // Ctrl-A
  0x02: 'left', // Ctrl-B
  0x04: 'eof', // Ctrl-D
  0x05: 'end', // Ctrl-E
  0x06: 'right', // Ctrl-F
  0x08: 'backspace', // Ctrl-H, BS
  0x0b: 'killAfter', // Ctrl-K
  0x0c: 'redraw', // Ctrl-L
  0x0e: 'down', // Ctrl-N
  0x10: 'up', // Ctrl-P
  0x15: 'killBefore', // Ctrl-U
  0x17: 'killWord', // Ctrl-W
  0x7f: 'backspace', // DEL (PuTTY's and xterm's Backspace)
};

/** The final byte of a CSI or SS3 sequence without parameters. */
const FINAL_KEYS: Readonly<Record<string, Action>> = {
  A: 'up',
  B: 'down',
  C: 'right',
  D: 'left',
  H: 'home',
  F: 'end',
};

/** `ESC [ n ~` keys. */
const TILDE_KEYS: Readonly<Record<string, Action>> = {
  '1': 'home',
  '7': 'home',
  '4': 'end',
  '8': 'end',
  '3': 'delete',
};

/** Columns a string takes on the screen. EMULATION: one per code point (wide characters count one). */
function width(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function utf8Size(code: number): number {
  return code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
}

/** The line discipline of one session (see the module comment). Not shared; no I/O. */
export class LineEditor {
  private buf = '';
  /** Cursor offset in buf (UTF-16 units), between segmentStart and buf.length. */
  private cur = 0;
  private bytes = 0;
  private echo = '';
  private inQuote = false;
  /** Offsets in buf of each quote that opened or closed a value, so Backspace can undo them. */
  private readonly quoteMarks: number[] = [];
  /** Start of the line being typed (after the last newline inside a quoted value). */
  private segmentStart = 0;
  private skipLf = false;
  private esc: EscState = 'none';
  private escParams = '';
  /** Set while discarding an overlong line; `untilQuote` while inside its quoted value. */
  private discard: { untilQuote: boolean; inQuote: boolean } | undefined;
  private readonly hist: string[] = [];
  /** Position in the history while walking it; hist.length = the line being typed. */
  private histPos = 0;
  /** The line being typed, kept while the user walks the history. */
  private draft = '';
  private promptText = '';
  private cols: number;
  /** Row (from the prompt's row) where the terminal's cursor is now. */
  private termRow = 0;
  private readonly historySize: number;
  /** Columns the current segment takes (kept as characters are added at the end). */
  private segWidth = 0;
  /** A redraw is pending (see settle). */
  private dirty = false;
  private clearScreen = false;

  constructor(private readonly o: LineEditorOptions) {
    this.historySize = Math.max(1, o.historySize ?? HISTORY_SIZE);
    this.cols = o.cols && o.cols > 0 ? o.cols : 80;
  }

  /** The line typed so far (may contain newlines inside a quoted value). */
  get text(): string {
    return this.buf;
  }

  /** The text before the cursor (what `?` and Tab look at). */
  get beforeCursor(): string {
    return this.buf.slice(0, this.cur);
  }

  /** The cursor's offset in text. */
  get cursor(): number {
    return this.cur;
  }

  /** The session's history, oldest first. */
  get history(): readonly string[] {
    return this.hist;
  }

  /** True while the line is inside an open quoted value. */
  get quoting(): boolean {
    return this.inQuote || (this.discard?.untilQuote ?? false);
  }

  /** True while an overlong line is being discarded. */
  get discarding(): boolean {
    return this.discard !== undefined;
  }

  /** What to write to the terminal since the last call (empty when not interactive). */
  takeEcho(): string {
    this.settle();
    const e = this.echo;
    this.echo = '';
    return e;
  }

  /** Forget the line (after it was submitted, cancelled or reported). */
  reset(): void {
    this.buf = '';
    this.cur = 0;
    this.bytes = 0;
    this.inQuote = false;
    this.quoteMarks.length = 0;
    this.segmentStart = 0;
    this.segWidth = 0;
    this.dirty = false;
    this.clearScreen = false;
    this.discard = undefined;
    this.histPos = this.hist.length;
    this.draft = '';
  }

  /**
   * The session wrote `prompt` and the terminal's cursor is right after it.
   * The editor redraws from there.
   */
  setPrompt(prompt: string): void {
    this.promptText = prompt;
    this.termRow = 0;
  }

  /**
   * The session wrote `prompt` on a fresh line: draw it with the line typed so
   * far and put the cursor where it was (after a `?` listing, Tab choices).
   */
  redrawAfter(prompt: string): void {
    this.promptText = prompt;
    this.termRow = 0;
    this.dirty = false;
    this.clearScreen = false;
    if (!this.o.interactive) return;
    this.echo += prompt;
    this.paint();
  }

  /**
   * The terminal's width changed (window-change). The terminal has reflowed
   * what it shows (xterm, tmux and PuTTY do), so the line is redrawn for the
   * new width when `redraw` (the session shows its prompt now).
   */
  resize(cols: number, redraw: boolean): void {
    if (!(cols > 0) || cols === this.cols) return;
    if (!redraw || !this.o.interactive || this.discard) {
      this.cols = cols;
      return;
    }
    this.settle();
    this.cols = cols;
    this.termRow = Math.floor(this.column(this.cur) / cols);
    this.refresh();
  }

  /** Insert text chosen by the session (Tab completion) at the cursor, echoing it when interactive. */
  insert(s: string): void {
    for (const ch of s) this.addChar(ch);
  }

  /** Feed one character (a whole code point). Returns an event when the session must act. */
  feed(ch: string): EditorEvent | undefined {
    const code = ch.codePointAt(0)!;
    // A LF (or NUL, from telnet-like clients) right after CR belongs to the same end of line.
    if (this.skipLf) {
      this.skipLf = false;
      if (ch === '\n' || code === 0) return undefined;
    }
    // Ctrl-C always wins: it also ends an escape sequence, a quote and a discarded line.
    if (code === 0x03) {
      this.esc = 'none';
      this.toEndOfLine();
      this.reset();
      return { type: 'cancel' };
    }
    if (this.esc !== 'none') return this.feedEscape(ch);
    if (ch === '\r' || ch === '\n') {
      this.skipLf = ch === '\r';
      return this.endOfLine();
    }
    if (this.discard) {
      if (this.discard.untilQuote && ch === '"') this.discard.untilQuote = false;
      return undefined;
    }
    switch (code) {
      case 0x1a: // Ctrl-Z
        this.toEndOfLine();
        this.reset();
        return { type: 'suspend' };
      case 0x1b:
        this.esc = 'esc';
        this.escParams = '';
        return undefined;
      case 0x09:
        if (this.inQuote) return undefined;
        return { type: 'complete', text: this.beforeCursor };
    }
    if (code < 0x20 || code === 0x7f) {
      const action = CONTROL_KEYS[code];
      // Without a pty only the erasing keys a line-mode client may pass on keep their meaning.
      if (action && (this.o.interactive || action === 'backspace' || action === 'killBefore'))
        this.act(action);
      return undefined;
    }
    // C1 controls and U+FFFD (bytes that were not UTF-8) never become part of a command.
    if ((code >= 0x80 && code < 0xa0) || code === 0xfffd) return undefined;
    if (ch === '?' && this.o.interactive && !this.inQuote) {
      this.toEndOfLine();
      this.echo += '?';
      return { type: 'help', text: this.beforeCursor };
    }
    this.addChar(ch);
    return undefined;
  }

  private endOfLine(): EditorEvent | undefined {
    if (this.discard) {
      if (this.discard.untilQuote) return undefined;
      const inQuote = this.discard.inQuote;
      this.reset();
      return { type: 'overflow', inQuote };
    }
    if (this.inQuote) {
      // Inside a quoted value the end of line is part of the value (a PEM spans lines).
      this.toEndOfLine();
      this.cur = this.buf.length;
      this.addChar('\n');
      return undefined;
    }
    this.toEndOfLine();
    const text = this.buf;
    this.remember(text);
    this.reset();
    return { type: 'line', text };
  }

  private remember(text: string): void {
    if (text.trim() === '' || text.includes('\n')) return;
    if (this.hist[this.hist.length - 1] === text) return;
    this.hist.push(text);
    if (this.hist.length > this.historySize) this.hist.splice(0, this.hist.length - this.historySize);
  }

  // ---------------------------------------------------------------- editing

  private act(a: Action): void {
    const seg = this.segmentStart;
    switch (a) {
      case 'left':
        if (this.cur > seg) this.moveTo(this.prevIndex(this.cur));
        return;
      case 'right':
        if (this.cur < this.buf.length) this.moveTo(this.nextIndex(this.cur));
        return;
      case 'home':
        this.moveTo(seg);
        return;
      case 'end':
        this.moveTo(this.buf.length);
        return;
      case 'wordLeft':
        this.moveTo(this.wordStart(this.cur));
        return;
      case 'wordRight': {
        let i = this.cur;
        while (i < this.buf.length && /\s/.test(this.buf[i]!)) i++;
        while (i < this.buf.length && !/\s/.test(this.buf[i]!)) i++;
        this.moveTo(i);
        return;
      }
      case 'up':
      case 'down':
        this.walkHistory(a === 'up' ? -1 : 1);
        return;
      case 'backspace':
        if (this.cur <= seg) return;
        if (this.cur === this.buf.length) this.backspaceAtEnd();
        else this.cut(this.prevIndex(this.cur), this.cur);
        return;
      case 'delete':
      case 'eof':
        // EMULATION (the framework): Ctrl-D on an empty line does nothing (it does not log out).
        if (this.cur < this.buf.length) this.cut(this.cur, this.nextIndex(this.cur));
        return;
      case 'killWord':
        this.cut(this.wordStart(this.cur), this.cur);
        return;
      case 'killBefore':
        if (this.cur === this.buf.length) while (this.buf.length > seg) this.backspaceAtEnd();
        else this.cut(seg, this.cur);
        return;
      case 'killAfter':
        this.cut(this.cur, this.buf.length);
        return;
      case 'redraw':
        this.clearScreen = true;
        this.refresh();
        return;
    }
  }

  /** Start of the word before `i` (readline's unix-word-rubout: blanks, then non-blanks). */
  private wordStart(i: number): number {
    const seg = this.segmentStart;
    while (i > seg && /\s/.test(this.buf[i - 1]!)) i--;
    while (i > seg && !/\s/.test(this.buf[i - 1]!)) i--;
    return i;
  }

  private prevIndex(i: number): number {
    const c = this.buf.charCodeAt(i - 1);
    return c >= 0xdc00 && c <= 0xdfff && i - 2 >= this.segmentStart ? i - 2 : i - 1;
  }

  private nextIndex(i: number): number {
    const c = this.buf.charCodeAt(i);
    return c >= 0xd800 && c <= 0xdbff && i + 1 < this.buf.length ? i + 2 : i + 1;
  }

  private walkHistory(step: -1 | 1): void {
    // Not inside a multi-line value: the history holds single lines only.
    if (this.segmentStart !== 0) return;
    const next = this.histPos + step;
    if (next < 0 || next > this.hist.length) return;
    if (this.histPos === this.hist.length) this.draft = this.buf;
    this.histPos = next;
    this.replace(next === this.hist.length ? this.draft : this.hist[next]!);
  }

  /** Replace the whole line with `text` (a history entry), cursor at its end. */
  private replace(text: string): void {
    if (Buffer.byteLength(text) > this.o.maxLineBytes) return;
    this.buf = text;
    this.cur = text.length;
    this.rescan();
    this.refresh();
  }

  /** Remove buf[from, to) in the current segment and redraw. */
  private cut(from: number, to: number): void {
    if (to <= from) return;
    this.buf = this.buf.slice(0, from) + this.buf.slice(to);
    this.cur = from;
    this.rescan();
    this.refresh();
  }

  /** Recompute the byte count and the quote marks after an edit away from the end. */
  private rescan(): void {
    this.bytes = Buffer.byteLength(this.buf);
    this.segWidth = width(this.buf.slice(this.segmentStart));
    this.quoteMarks.length = 0;
    this.inQuote = false;
    for (let i = 0; i < this.buf.length; i++) {
      if (this.buf[i] !== '"') continue;
      if (this.inQuote || this.quoteOpensAt(i)) {
        this.inQuote = !this.inQuote;
        this.quoteMarks.push(i);
      }
    }
  }

  /** True when a `"` at offset `i` would open a value (the tokenizer's rule: at a token start). */
  private quoteOpensAt(i: number): boolean {
    const prev = this.buf[i - 1];
    if (prev === undefined || prev === ' ' || prev === '\t' || prev === '\n') return true;
    // Right after a closing quote (an even number of marks, the last one just before).
    const m = this.quoteMarks[this.quoteMarks.length - 1];
    return !this.inQuote && m === i - 1 && this.quoteMarks.length % 2 === 0;
  }

  private addChar(ch: string): void {
    const size = utf8Size(ch.codePointAt(0)!);
    if (this.bytes + size > this.o.maxLineBytes) {
      // Stop storing at once: the rest of the line (of the quoted value) is read and dropped.
      this.settle();
      this.discard = { untilQuote: this.inQuote, inQuote: this.inQuote };
      this.buf = '';
      this.cur = 0;
      this.bytes = 0;
      this.quoteMarks.length = 0;
      this.inQuote = false;
      this.segmentStart = 0;
      this.segWidth = 0;
      return;
    }
    if (this.cur < this.buf.length) {
      // Insertion in the middle of the line: redraw from the prompt.
      this.buf = this.buf.slice(0, this.cur) + ch + this.buf.slice(this.cur);
      this.cur += ch.length;
      this.rescan();
      this.refresh();
      return;
    }
    if (ch === '"' && (this.inQuote || this.quoteOpensAt(this.buf.length))) {
      this.inQuote = !this.inQuote;
      this.quoteMarks.push(this.buf.length);
    }
    this.buf += ch;
    this.cur = this.buf.length;
    this.bytes += size;
    if (ch === '\n') {
      this.settle();
      this.segmentStart = this.buf.length;
      this.segWidth = 0;
      if (this.o.interactive) this.echo += '\r\n';
      this.termRow = 0;
      return;
    }
    this.segWidth++;
    if (!this.o.interactive || this.dirty) return;
    this.echo += ch;
    // At the last column the terminal holds the cursor there; move it to the next row ourselves
    // so that the row we count and the row the terminal is on agree.
    const col = this.prefixWidth() + this.segWidth;
    if (col % this.cols === 0) this.echo += '\r\n';
    this.termRow = Math.floor(col / this.cols);
  }

  private backspaceAtEnd(): void {
    const at = this.prevIndex(this.buf.length);
    const removed = this.buf.slice(at);
    if (this.quoteMarks[this.quoteMarks.length - 1] === at) {
      this.quoteMarks.pop();
      this.inQuote = !this.inQuote;
    }
    const before = this.prefixWidth() + this.segWidth;
    this.buf = this.buf.slice(0, at);
    this.cur = this.buf.length;
    this.segWidth--;
    this.bytes -= utf8Size(removed.codePointAt(0)!);
    if (!this.o.interactive || this.dirty) return;
    if (before % this.cols === 0) {
      // The cursor is at the start of a wrapped row: Backspace cannot go up a row; redraw.
      this.refresh();
      return;
    }
    this.echo += '\b \b';
  }

  // ---------------------------------------------------------------- screen
  //
  // Edits away from the end of the line mark the screen dirty; the redraw is
  // written once, when the session takes the echo (or before a newline goes
  // out), so a paste of many editing keys costs one redraw, not one per key.

  private prefixWidth(): number {
    return this.segmentStart === 0 ? width(this.promptText) : 0;
  }

  /** Screen column (from the prompt's start, unwrapped) of buffer offset `i` in the current segment. */
  private column(i: number): number {
    return this.prefixWidth() + width(this.buf.slice(this.segmentStart, i));
  }

  /**
   * Put the terminal's cursor after the end of the line, leaving the editor's
   * cursor where it is (before a newline, a `?` listing or Tab's choices go out).
   */
  toEndOfLine(): void {
    if (!this.o.interactive) return;
    if (this.dirty) {
      const c = this.cur;
      this.cur = this.buf.length;
      this.settle();
      this.cur = c;
      return;
    }
    if (this.cur !== this.buf.length) this.position(this.prefixWidth() + this.segWidth);
  }

  private moveTo(i: number): void {
    if (i === this.cur) return;
    this.cur = i;
    if (!this.o.interactive) return;
    // On a long line the cursor is placed once, when the echo is taken.
    if (this.dirty || this.buf.length - this.segmentStart > 1024) this.refresh();
    else this.position(this.column(i));
  }

  /** Move the terminal's cursor from termRow to unwrapped column `col`. */
  private position(col: number): void {
    const row = Math.floor(col / this.cols);
    if (row < this.termRow) this.echo += `\x1b[${this.termRow - row}A`;
    else if (row > this.termRow) this.echo += `\x1b[${row - this.termRow}B`;
    this.echo += '\r';
    const c = col % this.cols;
    if (c > 0) this.echo += `\x1b[${c}C`;
    this.termRow = row;
  }

  /** The line must be redrawn from its first row (prompt included). */
  private refresh(): void {
    if (this.o.interactive) this.dirty = true;
  }

  /** Write a pending redraw: up to the segment's first row, clear below, prompt, text, cursor. */
  private settle(): void {
    if (!this.dirty) return;
    this.dirty = false;
    if (this.clearScreen) {
      this.clearScreen = false;
      this.echo += '\x1b[H\x1b[2J';
    } else {
      if (this.termRow > 0) this.echo += `\x1b[${this.termRow}A`;
      this.echo += '\r\x1b[J';
    }
    this.echo += this.segmentStart === 0 ? this.promptText : '';
    this.termRow = 0;
    this.paint();
  }

  /** Write the segment after the prompt (the cursor is right after the prompt) and place the cursor. */
  private paint(): void {
    const seg = this.buf.slice(this.segmentStart);
    this.echo += seg;
    this.segWidth = width(seg);
    const end = this.prefixWidth() + this.segWidth;
    if (end > 0 && end % this.cols === 0) this.echo += '\r\n';
    this.termRow = Math.floor(end / this.cols);
    if (this.cur !== this.buf.length) this.position(this.column(this.cur));
  }

  private feedEscape(ch: string): undefined {
    const code = ch.codePointAt(0)!;
    if (this.esc === 'esc') {
      this.esc = 'none';
      if (ch === '[') this.esc = 'csi';
      else if (ch === 'O') this.esc = 'ss3';
      else if (this.o.interactive && !this.discard && (ch === 'b' || ch === 'B')) this.act('wordLeft');
      else if (this.o.interactive && !this.discard && (ch === 'f' || ch === 'F')) this.act('wordRight');
      return undefined;
    }
    if (this.esc === 'ss3') {
      this.esc = 'none';
      const a = FINAL_KEYS[ch];
      if (a && this.o.interactive && !this.discard) this.act(a);
      return undefined;
    }
    // CSI: parameter and intermediate bytes (0x20-0x3f), then a final byte (0x40-0x7e).
    if (code >= 0x20 && code <= 0x3f) {
      this.escParams += ch;
      if (this.escParams.length > MAX_ESCAPE) this.esc = 'none';
      return undefined;
    }
    this.esc = 'none';
    if (!this.o.interactive || this.discard || !(code >= 0x40 && code <= 0x7e)) return undefined;
    // Modifiers (`1;5C`) are read as the plain key.
    const params = this.escParams.split(';');
    const a = ch === '~' ? TILDE_KEYS[params[0]!] : FINAL_KEYS[ch];
    if (a) this.act(a);
    return undefined;
  }
}
