/**
 * Splitting a CLI line into tokens (CLI contract, "Session and modes").
 *
 * Rules, shared with the line editor so that both agree where a quote opens:
 * - Tokens are separated by blanks (space, tab, CR, LF).
 * - A double quote at the start of a token opens a quoted value; it runs to
 *   the next double quote and may span lines (a PEM). There is no escape
 *   character: a PEM never contains a double quote.
 * - A double quote inside an unquoted word is an ordinary character.
 * - A closing quote ends its token even without a blank after it (so a
 *   quote right after it opens the next token).
 *
 * Pure functions; input of any size and content is accepted.
 */

/** One token of a line. `start`/`end` are offsets in the line (end exclusive, after a closing quote). */
export interface Token {
  text: string;
  quoted: boolean;
  start: number;
  end: number;
}

/** A tokenized line. */
export interface Tokenized {
  tokens: Token[];
  /** True when the line ends inside a quoted value (the command is not finished). */
  openQuote: boolean;
  /** True when the line is empty or ends with a blank outside a quote: the last token is complete. */
  trailingSpace: boolean;
}

/** True for the characters that separate tokens. */
function isBlank(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
}

/** Split `line` into tokens (see the module comment for the rules). */
export function tokenize(line: string): Tokenized {
  const tokens: Token[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && isBlank(line[i]!)) i++;
    if (i >= n) break;
    const start = i;
    if (line[i] === '"') {
      const close = line.indexOf('"', i + 1);
      if (close < 0) {
        tokens.push({ text: line.slice(i + 1), quoted: true, start, end: n });
        return { tokens, openQuote: true, trailingSpace: false };
      }
      tokens.push({ text: line.slice(i + 1, close), quoted: true, start, end: close + 1 });
      i = close + 1;
      continue;
    }
    while (i < n && !isBlank(line[i]!)) i++;
    tokens.push({ text: line.slice(start, i), quoted: false, start, end: i });
  }
  const last = tokens[tokens.length - 1];
  return { tokens, openQuote: false, trailingSpace: !last || last.end < n };
}

/**
 * Split a script (an exec channel's command, a pasted block) into command
 * lines: a line ends at CR or LF outside a quoted value; CR LF counts once.
 * Blank lines are dropped. A quote left open runs to the end of the text,
 * so the last line then has an open quote (the parser refuses it).
 */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let cur = '';
  let inQuote = false;
  let prevBlank = true;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inQuote) {
      cur += ch;
      if (ch === '"') {
        inQuote = false;
        // A closing quote ends its token, so a quote right after it opens a new one.
        prevBlank = true;
      }
      continue;
    }
    if (ch === '\r' || ch === '\n') {
      if (cur.trim() !== '') lines.push(cur);
      cur = '';
      prevBlank = true;
      continue;
    }
    if (ch === '"' && prevBlank) inQuote = true;
    prevBlank = isBlank(ch);
    cur += ch;
  }
  if (cur.trim() !== '') lines.push(cur);
  return lines;
}
