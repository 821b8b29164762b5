/**
 * Parsing a line against a mode's command tree, `?` help and Tab completion
 * (CLI contract, "Session and modes"). Pure functions over immutable trees.
 *
 * Matching of a token at a node, in this order:
 * 1. a keyword the role may see, spelled in full (hidden keywords only so);
 * 2. a unique prefix of a listed keyword (two or more: ambiguous);
 * 3. the node's parameter, checked against its type;
 * 4. a keyword above the role: `% Permission denied.`; else unrecognized.
 * Keywords are matched case-insensitively; a quoted token is never a keyword.
 */
import { clip } from '../device/validate.js';
import { roleAllows, type Role } from '../device/roles.js';
import { tokenize, type Token, type Tokenized } from './tokenizer.js';
import {
  Args,
  MODES,
  visibleTo,
  type CommandSpec,
  type Mode,
  type ModeTrees,
  type TreeNode,
} from './tree.js';

/** The outcome of parsing one line. `lines` of an error are ready to print (each starts with `%` or is the help hint). */
export type ParseResult =
  | { kind: 'empty' }
  | { kind: 'command'; command: CommandSpec; args: Args }
  | { kind: 'error'; lines: string[] };

/** The error texts of the contract. */
const MESSAGES = {
  unrecognized: (tok: string) => [`% Unrecognized command "${clip(tok)}".`, 'Type "?" for help.'],
  incomplete: () => ['% Incomplete command.'],
  ambiguous: (tok: string, candidates: readonly HelpEntry[] = []) => [
    `% Ambiguous command "${clip(tok)}".`,
    ...formatHelp(candidates),
  ],
  denied: () => ['% Permission denied.'],
  openQuote: () => ['% Missing closing quote: a quoted value ends at its closing double quote (").'],
} as const;

type Walk =
  | { ok: true; node: TreeNode; values: Map<string, string>; words: Set<string>; rest: boolean }
  | { ok: false; lines: string[] };

/** Follow `tokens` from `root`. Stops at the first token that does not match. */
function walk(tokens: readonly Token[], root: TreeNode, role: Role): Walk {
  const values = new Map<string, string>();
  const words = new Set<string>();
  let node = root;
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    const m = matchChild(node, tok, role);
    if (!m.ok) return m;
    node = m.node;
    if (node.kind === 'keyword') {
      words.add(node.word);
    } else if (node.type?.kind === 'rest') {
      values.set(
        node.word,
        tokens
          .slice(i)
          .map((t) => t.text)
          .join(' '),
      );
      return { ok: true, node, values, words, rest: true };
    } else {
      values.set(node.word, tok.text);
    }
  }
  return { ok: true, node, values, words, rest: false };
}

function matchChild(
  node: TreeNode,
  tok: Token,
  role: Role,
): { ok: true; node: TreeNode } | { ok: false; lines: string[] } {
  const w = tok.text.toLowerCase();
  if (!tok.quoted) {
    const usable = node.children.filter((c) => c.kind === 'keyword' && visibleTo(c, role));
    const exact = usable.find((c) => c.word.toLowerCase() === w);
    if (exact) return { ok: true, node: exact };
    const prefixed = usable.filter((c) => !c.hidden && c.word.toLowerCase().startsWith(w));
    if (prefixed.length === 1) return { ok: true, node: prefixed[0]! };
    if (prefixed.length > 1)
      return {
        ok: false,
        lines: MESSAGES.ambiguous(
          tok.text,
          sortedChildren({ ...node, children: prefixed }).map((c) => ({ label: c.word, help: c.help })),
        ),
      };
  }
  const param = node.children.find((c) => c.kind === 'param');
  if (param && visibleTo(param, role)) {
    const err = checkParam(param, tok);
    return err ? { ok: false, lines: [err] } : { ok: true, node: param };
  }
  const above = node.children.some((c) => {
    if (visibleTo(c, role)) return false;
    if (c.kind === 'param') return true;
    const k = c.word.toLowerCase();
    return !tok.quoted && (k === w || (!c.hidden && k.startsWith(w)));
  });
  if (above) return { ok: false, lines: MESSAGES.denied() };
  return { ok: false, lines: MESSAGES.unrecognized(tok.text) };
}

/** Check a token against a parameter's type; returns the error line or undefined. */
function checkParam(param: TreeNode, tok: Token): string | undefined {
  const t = param.type!;
  if (t.kind === 'int') {
    const n = /^\d{1,10}$/.test(tok.text) ? Number(tok.text) : NaN;
    if (!(n >= t.min && n <= t.max)) {
      return `% Invalid ${param.word} "${clip(tok.text)}": give a whole number from ${t.min} to ${t.max}.`;
    }
  }
  if (t.kind === 'pem' && !tok.quoted) {
    return `% Give the ${param.word} in double quotes: ... pem "-----BEGIN ...-----" (it may span lines).`;
  }
  return undefined;
}

/** Parse a line (or an already tokenized one) in the tree `root` for `role`. */
export function parseCommand(line: string | Tokenized, root: TreeNode, role: Role): ParseResult {
  const t = typeof line === 'string' ? tokenize(line) : line;
  if (t.openQuote) return { kind: 'error', lines: MESSAGES.openQuote() };
  if (t.tokens.length === 0) return { kind: 'empty' };
  const w = walk(t.tokens, root, role);
  if (!w.ok) return { kind: 'error', lines: w.lines };
  const cmd = w.node.command;
  if (!cmd) return { kind: 'error', lines: MESSAGES.incomplete() };
  if (!roleAllows(role, cmd.role)) return { kind: 'error', lines: MESSAGES.denied() };
  return { kind: 'command', command: cmd, args: new Args(w.values, w.words) };
}

/** The existing values of a parameter node, for Tab and `?` (the session reads them from its box). */
export type ValuesOf = (param: TreeNode) => readonly string[];

const noValues: ValuesOf = () => [];

/** At most this many existing names are listed by `?` (EMULATION: bound ours). */
const MAX_LISTED_NAMES = 64;

/** One line of a `?` listing. */
export interface HelpEntry {
  label: string;
  help: string;
}

/** The help of what may follow `line` (`show ?`), or of the words the last partial word may be (`sh?`). */
export function helpEntries(
  line: string,
  root: TreeNode,
  role: Role,
  valuesOf: ValuesOf = noValues,
): { entries: HelpEntry[] } | { error: string[] } {
  const t = tokenize(line);
  if (t.openQuote) return { entries: [] };
  const complete = t.trailingSpace;
  const done = complete ? t.tokens : t.tokens.slice(0, -1);
  const partial = complete ? '' : t.tokens[t.tokens.length - 1]!.text.toLowerCase();
  const w = walk(done, root, role);
  if (!w.ok) return { error: w.lines };
  const entries: HelpEntry[] = [];
  if (w.rest) {
    entries.push({ label: `<${w.node.word}>`, help: w.node.help });
  } else {
    // EMULATION: keywords in alphabetical order, then the parameter, then <cr> (as the Onyx family lists them).
    for (const c of sortedChildren(w.node)) {
      if (c.kind !== 'keyword' || c.hidden || !visibleTo(c, role)) continue;
      if (c.word.toLowerCase().startsWith(partial)) entries.push({ label: c.word, help: c.help });
    }
    const param = w.node.children.find((c) => c.kind === 'param' && visibleTo(c, role));
    const partialText = complete ? '' : t.tokens[t.tokens.length - 1]!.text;
    const names = param ? valuesOf(param).filter((n) => n.startsWith(partialText)) : [];
    if (param && (complete || entries.length === 0 || names.length > 0))
      entries.push({ label: `<${param.word}>`, help: param.help });
    // EMULATION: the existing values (certificates, users, SNMP hosts...) follow the parameter, one a line.
    for (const n of names.slice(0, MAX_LISTED_NAMES)) entries.push({ label: n, help: 'existing' });
    if (names.length > MAX_LISTED_NAMES)
      entries.push({ label: `(${names.length - MAX_LISTED_NAMES} more)`, help: '' });
  }
  if (complete && w.node.command && roleAllows(role, w.node.command.role))
    entries.push({ label: '<cr>', help: '' });
  if (entries.length === 0)
    return { error: MESSAGES.unrecognized(t.tokens[t.tokens.length - 1]?.text ?? '') };
  return { entries };
}

/** Format a `?` listing: two spaces, the word padded to a column, the help. */
function formatHelp(entries: readonly HelpEntry[]): string[] {
  const width = Math.max(20, ...entries.map((e) => e.label.length)) + 2;
  return entries.map((e) => (e.help ? `  ${e.label.padEnd(width)}${e.help}` : `  ${e.label}`));
}

/** The lines `?` prints after `line`: the listing, or the error that stops it. */
export function helpLines(line: string, root: TreeNode, role: Role, valuesOf: ValuesOf = noValues): string[] {
  const r = helpEntries(line, root, role, valuesOf);
  return 'error' in r ? r.error : formatHelp(r.entries);
}

/** The result of Tab: text to append to the line, or the choices to list when it is not unique. */
export interface Completion {
  append: string;
  choices: string[];
}

/**
 * Complete the last word of `line` (or list the next words when it ends with a blank): keywords,
 * and where a parameter may come, its existing values (`no crypto certificate name d<Tab>`).
 */
export function complete(
  line: string,
  root: TreeNode,
  role: Role,
  valuesOf: ValuesOf = noValues,
): Completion {
  const none: Completion = { append: '', choices: [] };
  const t = tokenize(line);
  if (t.openQuote) return none;
  const last = t.trailingSpace ? undefined : t.tokens[t.tokens.length - 1];
  if (last?.quoted) return none;
  const partial = last ? last.text.toLowerCase() : '';
  const w = walk(last ? t.tokens.slice(0, -1) : t.tokens, root, role);
  if (!w.ok || w.rest) return none;
  const keywords = sortedChildren(w.node)
    .filter(
      (c) =>
        c.kind === 'keyword' && !c.hidden && visibleTo(c, role) && c.word.toLowerCase().startsWith(partial),
    )
    .map((c) => c.word);
  const param = w.node.children.find((c) => c.kind === 'param' && visibleTo(c, role));
  // Names are matched as typed (they are case-sensitive); keywords in any case.
  const typed = last?.text ?? '';
  const names = param ? [...new Set(valuesOf(param))].filter((n) => n.startsWith(typed)).sort() : [];
  const words = [...keywords, ...names.filter((n) => !keywords.includes(n))];
  if (words.length === 0) return none;
  // After a blank where a parameter may come, Tab lists what exists rather than choosing for the user.
  if (param && partial === '') return { append: '', choices: words };
  if (words.length === 1) return { append: words[0]!.slice(partial.length) + ' ', choices: [] };
  // A common prefix is added only when every candidate is a keyword (case-insensitive) or a name (as typed).
  const common = names.length === 0 ? commonPrefix(words.map((x) => x.toLowerCase())) : commonPrefix(words);
  if (common.length > partial.length && (names.length > 0 || common.startsWith(partial)))
    return { append: common.slice(partial.length), choices: [] };
  return { append: '', choices: words };
}

function sortedChildren(node: TreeNode): TreeNode[] {
  return [...node.children].sort((a, b) => a.word.toLowerCase().localeCompare(b.word.toLowerCase()));
}

function commonPrefix(words: readonly string[]): string {
  let p = words[0] ?? '';
  for (const w of words) while (!w.startsWith(p)) p = p.slice(0, -1);
  return p;
}

/** How to reach each mode from standard mode. */
const HOW_TO_ENTER: Readonly<Record<Mode, string>> = {
  standard: '"exit" or "disable"',
  enable: '"enable"',
  config: '"enable", then "configure terminal"',
};

/**
 * When the first word of `line` is no command of `mode` but is one of another
 * mode the role may use (`configure` in standard mode), the line that says
 * where it works; else undefined.
 * EMULATION: the framework's wording is not documented; the line is ours.
 */
export function modeHint(line: string, trees: ModeTrees, mode: Mode, role: Role): string | undefined {
  const first = tokenize(line).tokens[0];
  if (!first || first.quoted) return undefined;
  if (matchChild(trees[mode], first, role).ok) return undefined;
  const w = first.text.toLowerCase();
  for (const m of MODES) {
    if (m === mode) continue;
    const usable = trees[m].children.filter((c) => c.kind === 'keyword' && !c.hidden && visibleTo(c, role));
    const exact = usable.find((c) => c.word.toLowerCase() === w);
    const prefixed = usable.filter((c) => c.word.toLowerCase().startsWith(w));
    const hit = exact ?? (prefixed.length === 1 ? prefixed[0] : undefined);
    if (!hit) continue;
    const from = mode === 'config' && m === 'enable' ? '"end" (or "exit")' : HOW_TO_ENTER[m];
    return `"${hit.word}" is a command of ${m} mode: type ${from} first.`;
  }
  return undefined;
}
