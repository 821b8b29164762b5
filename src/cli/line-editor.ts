/**
 * The line discipline of a CLI session, as a state machine with no I/O: it
 * takes characters one at a time and says when a line is ready, when `?` or
 * Tab asks for help, and what to echo.
 *
 * Interactive (a pty): typed characters are echoed, Backspace erases, `?`
 * (outside a quote) asks for help at once, Ctrl-C abandons the line, Ctrl-Z
 * means `end`, Ctrl-U erases the line being typed, escape sequences (arrow
 * keys) are ignored.
 * Not interactive (no pty, raw TCP): nothing is echoed and `?` is an
 * ordinary character (the session reads a trailing `?` as a help request).
 * Both: a line ends at CR or LF (CR LF counts once); inside a quoted value an
 * end of line is part of the value (a PEM spans lines), the command ends at
 * the closing quote (CLI contract).
 *
 * Bounds: a line longer than `maxLineBytes` is discarded as it arrives (never
 * stored); when it ends the editor reports `overflow`. A quoted value that
 * overflows is discarded up to its closing quote, so the rest of a long PEM
 * is not read as commands.
 */

/** What the editor asks its session to do. Echo is collected separately (takeEcho). */
export type EditorEvent =
  | { type: 'line'; text: string }
  | { type: 'help'; text: string }
  | { type: 'complete'; text: string }
  | { type: 'cancel' }
  | { type: 'suspend' }
  | { type: 'overflow'; inQuote: boolean };

/** `interactive`: a pty (echo, `?` at once); `maxLineBytes`: the longest line kept. */
export interface LineEditorOptions {
  interactive: boolean;
  maxLineBytes: number;
}

type EscState = 'none' | 'esc' | 'csi' | 'ss3';

/** The line discipline of one session (see the module comment). Not shared; no I/O. */
export class LineEditor {
  private buf = '';
  private bytes = 0;
  private echo = '';
  private inQuote = false;
  /** Offsets in buf of each quote that opened or closed a value, so Backspace can undo them. */
  private readonly quoteMarks: number[] = [];
  /** Start of the line being typed (after the last newline inside a quoted value). */
  private segmentStart = 0;
  private skipLf = false;
  private esc: EscState = 'none';
  /** Set while discarding an overlong line; `untilQuote` while inside its quoted value. */
  private discard: { untilQuote: boolean; inQuote: boolean } | undefined;

  constructor(private readonly o: LineEditorOptions) {}

  /** The line typed so far (may contain newlines inside a quoted value). */
  get text(): string {
    return this.buf;
  }

  /** True while the line is inside an open quoted value. */
  get quoting(): boolean {
    return this.inQuote || (this.discard?.untilQuote ?? false);
  }

  /** True while an overlong line is being discarded. */
  get discarding(): boolean {
    return this.discard !== undefined;
  }

  /** Echo produced since the last call (empty when not interactive). */
  takeEcho(): string {
    const e = this.echo;
    this.echo = '';
    return e;
  }

  /** Forget the line (after it was submitted, cancelled or reported). */
  reset(): void {
    this.buf = '';
    this.bytes = 0;
    this.inQuote = false;
    this.quoteMarks.length = 0;
    this.segmentStart = 0;
    this.discard = undefined;
  }

  /** Append text chosen by the session (Tab completion), echoing it when interactive. */
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
      this.reset();
      return { type: 'cancel' };
    }
    if (this.esc !== 'none') return this.feedEscape(code);
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
        this.reset();
        return { type: 'suspend' };
      case 0x1b:
        this.esc = 'esc';
        return undefined;
      case 0x08:
      case 0x7f:
        this.backspace();
        return undefined;
      case 0x15: // Ctrl-U
        while (this.buf.length > this.segmentStart) this.backspace();
        return undefined;
      case 0x09:
        if (this.inQuote) return undefined;
        return { type: 'complete', text: this.buf };
    }
    // Control characters and U+FFFD (bytes that were not UTF-8) never become part of a command.
    if (code < 0x20 || (code >= 0x80 && code < 0xa0) || code === 0xfffd) return undefined;
    if (ch === '?' && this.o.interactive && !this.inQuote) {
      this.echo += '?';
      return { type: 'help', text: this.buf };
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
      this.addChar('\n');
      return undefined;
    }
    const text = this.buf;
    this.reset();
    return { type: 'line', text };
  }

  private addChar(ch: string): void {
    const code = ch.codePointAt(0)!;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (this.bytes + size > this.o.maxLineBytes) {
      // Stop storing at once: the rest of the line (of the quoted value) is read and dropped.
      this.discard = { untilQuote: this.inQuote, inQuote: this.inQuote };
      this.buf = '';
      this.bytes = 0;
      this.quoteMarks.length = 0;
      this.inQuote = false;
      this.segmentStart = 0;
      return;
    }
    if (ch === '"') {
      const prev = this.buf[this.buf.length - 1];
      const atTokenStart =
        prev === undefined || prev === ' ' || prev === '\t' || prev === '\n' || this.closedQuoteAtEnd();
      if (this.inQuote || atTokenStart) {
        this.inQuote = !this.inQuote;
        this.quoteMarks.push(this.buf.length);
      }
    }
    this.buf += ch;
    this.bytes += size;
    if (ch === '\n') {
      this.segmentStart = this.buf.length;
      if (this.o.interactive) this.echo += '\r\n';
    } else if (this.o.interactive) {
      this.echo += ch;
    }
  }

  /** True when the last character of the line closed a quoted value (a token boundary, as in the tokenizer). */
  private closedQuoteAtEnd(): boolean {
    const m = this.quoteMarks[this.quoteMarks.length - 1];
    return !this.inQuote && m !== undefined && m === this.buf.length - 1 && this.quoteMarks.length % 2 === 0;
  }

  private backspace(): void {
    if (this.buf.length <= this.segmentStart) return;
    let cut = 1;
    const lastCode = this.buf.charCodeAt(this.buf.length - 1);
    // Remove a whole surrogate pair, never half a character.
    if (lastCode >= 0xdc00 && lastCode <= 0xdfff && this.buf.length - 2 >= this.segmentStart) cut = 2;
    const removed = this.buf.slice(-cut);
    const at = this.buf.length - cut;
    if (this.quoteMarks[this.quoteMarks.length - 1] === at) {
      this.quoteMarks.pop();
      this.inQuote = !this.inQuote;
    }
    this.buf = this.buf.slice(0, at);
    const code = removed.codePointAt(0)!;
    this.bytes -= code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (this.o.interactive) this.echo += '\b \b';
  }

  private feedEscape(code: number): undefined {
    if (this.esc === 'esc') {
      this.esc = code === 0x5b ? 'csi' : code === 0x4f ? 'ss3' : 'none';
    } else if (this.esc === 'ss3') {
      this.esc = 'none';
    } else if (!(code >= 0x20 && code <= 0x3f)) {
      // A CSI sequence ends at its final byte (0x40-0x7e); anything else ends it too.
      this.esc = 'none';
    }
    return undefined;
  }
}
