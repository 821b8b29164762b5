/**
 * Characters that must never reach a terminal or a log raw from outside
 * input (certificate subjects, host names, user names): the C1 controls
 * U+0080-U+009F (U+009B is an 8-bit CSI: a terminal takes what follows as
 * an escape sequence) and the Unicode bidirectional controls (which reorder
 * what a reader sees: "Trojan Source", CVE-2021-42574). C0 controls are the
 * callers' business (the CLI writes CR/LF and ESC sequences of its own;
 * JSON escapes them).
 */
const UNSAFE = /[\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const hex4 = (c: string) => c.codePointAt(0)!.toString(16).padStart(4, '0');

/** `s` with every unsafe character shown as `\uXXXX` text (for a terminal). */
export function escapeUnsafe(s: string): string {
  return s.replace(UNSAFE, (c) => `\\u${hex4(c)}`);
}

/**
 * A JSON text with every unsafe character as a JSON `\uXXXX` escape: the
 * same value when parsed, but safe to print (JSON.stringify leaves them raw).
 */
export function escapeUnsafeJson(json: string): string {
  return json.replace(UNSAFE, (c) => `\\u${hex4(c)}`);
}
