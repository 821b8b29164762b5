/**
 * Command lines made from the CLI's own grammar (the syntax of every entry
 * in src/cli/commands/, expanded by src/cli/tree.ts): one sample line per
 * command for the role walks, and seeded random lines, well-formed or
 * mangled, for the fuzzer. Lines never reach the network: every address and
 * URL in them is a loopback one (the fuzzer sanitizes whatever mutation made).
 */
import { isIPv6 } from 'node:net';
import { ALL_COMMANDS } from '../../src/cli/commands/index.js';
import { LineEditor } from '../../src/cli/line-editor.js';
import { MAX_LINE_BYTES } from '../../src/cli/session.js';
import { expandSyntax, type CommandSpec, type SyntaxElement } from '../../src/cli/tree.js';

/** A line that reaches `spec` along its shortest path, with sample values. */
export function sampleLine(spec: CommandSpec): string {
  const paths = expandSyntax(spec.syntax).sort((a, b) => a.length - b.length);
  return paths[0]!
    .map((e) => {
      if (e.kind === 'keyword') return e.word;
      if (e.type.kind === 'int') return String(e.type.min);
      if (e.type.kind === 'pem') return '"-----BEGIN X-----\nAA==\n-----END X-----"';
      return 'x1';
    })
    .join(' ');
}

/** What the generator needs from a random source (test/reliability/helpers.ts Rng). */
export interface RandomSource {
  next(): number;
  int(lo: number, hi: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
}

/** Every linear path of every command, computed once. */
const PATHS: { spec: CommandSpec; path: SyntaxElement[] }[] = ALL_COMMANDS.flatMap((spec) =>
  expandSyntax(spec.syntax).map((path) => ({ spec, path })),
);

const WORDS = [
  'x',
  'box1',
  'lab.test',
  'a.lab.test',
  '127.0.0.1',
  '127.0.0.1:53',
  '::1',
  'default-cert',
  'acme-https.crt',
  'fuzz-cert',
  'admin',
  'fuzzer',
  'https://127.0.0.1:1/dir',
  'image-gvos-5.13.01.img',
  '__proto__',
  'constructor',
  '-1',
  '0',
  '99999999999999999999',
  '%s%n%x',
  '../../etc/passwd',
  '*.lab.test',
  'ünïcødé',
  '😀',
  '"quoted word"',
  '""',
  '$(reboot)',
  '<script>',
];

const GARBAGE_CHARS = [
  '\t',
  '\x00',
  '\x01',
  '\x03',
  '\x07',
  '\x08',
  '\x1a',
  '\x1b',
  '\x1b[A',
  '\x7f',
  '"',
  '?',
  ' ',
  '\u2028',
  '\ufffd',
];

function randomWord(rng: RandomSource): string {
  switch (rng.int(0, 5)) {
    case 0:
      return 'x'.repeat(rng.int(1, 300));
    case 1:
      return Array.from({ length: rng.int(1, 12) }, () => String.fromCharCode(rng.int(33, 126))).join('');
    default:
      return rng.pick(WORDS);
  }
}

function randomValue(rng: RandomSource, e: SyntaxElement & { kind: 'param' }): string {
  const t = e.type;
  if (t.kind === 'int') {
    return rng.chance(0.7)
      ? String(rng.int(t.min, t.max))
      : rng.pick([String(t.min - 1), String(t.max + 1), '1e3', 'NaN', '0x10', '-0']);
  }
  if (t.kind === 'pem') {
    const body = rng.chance(0.1) ? 'A'.repeat(rng.int(60_000, 70_000)) : 'AAAA';
    return rng.chance(0.9)
      ? `"-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----"`
      : 'unquoted-pem';
  }
  if (t.kind === 'rest') return Array.from({ length: rng.int(0, 4) }, () => randomWord(rng)).join(' ');
  return randomWord(rng);
}

/** A keyword as a user may type it: whole or a prefix, in any case. */
function spell(rng: RandomSource, word: string): string {
  const w = rng.chance(0.3) ? word.slice(0, rng.int(1, word.length)) : word;
  return rng.chance(0.1) ? w.toUpperCase() : w;
}

/**
 * One random line: from the grammar (70 %), a grammar line mangled (20 %:
 * a token dropped, doubled or replaced, control characters, `?` or Tab
 * inserted), or garbage (10 %: random bytes, or a line too long).
 */
export function randomLine(rng: RandomSource): string {
  const roll = rng.next();
  if (roll >= 0.9) {
    if (rng.chance(0.1)) return 'z'.repeat(rng.int(65_000, 80_000));
    return Array.from({ length: rng.int(1, 80) }, () =>
      rng.chance(0.3) ? rng.pick(GARBAGE_CHARS) : String.fromCharCode(rng.int(0, 0xff)),
    ).join('');
  }
  const { path } = rng.pick(PATHS);
  const tokens = path.map((e) => (e.kind === 'keyword' ? spell(rng, e.word) : randomValue(rng, e)));
  if (roll < 0.7) return tokens.join(' ');
  const i = rng.int(0, tokens.length - 1);
  switch (rng.int(0, 4)) {
    case 0:
      tokens.splice(i, 1);
      break;
    case 1:
      tokens.splice(i, 0, tokens[i]!);
      break;
    case 2:
      tokens[i] = randomWord(rng);
      break;
    case 3:
      tokens.splice(i, 0, rng.pick(GARBAGE_CHARS));
      break;
    default:
      tokens.push(rng.pick(['?', '\t', ' ?']));
  }
  return tokens.join(' ');
}

/** First words that end the session or the box's run: a fuzzer must not send them. */
const SESSION_ENDERS = ['exit', 'reload', 'quit', 'logout'];

/**
 * The command lines a session would run for `input`, as the real line
 * editor (no pty) splits it: Ctrl-C and Ctrl-Z drop what came before,
 * Backspace and Ctrl-U edit, escape sequences are swallowed, CR and LF end a
 * line outside quotes. `tabs` receives the text at each Tab (which may
 * complete a keyword).
 */
function editedLines(input: string, tabs: string[]): string[] {
  const editor = new LineEditor({ interactive: false, maxLineBytes: MAX_LINE_BYTES });
  const lines: string[] = [];
  for (const ch of input + '\n') {
    const ev = editor.feed(ch);
    if (ev?.type === 'line') lines.push(ev.text);
    else if (ev?.type === 'complete') tabs.push(ev.text);
  }
  return lines;
}

/**
 * Make input safe to send to a box that must stay reachable: no address or
 * URL outside loopback (nothing leaves the machine), and nothing that ends
 * the session or takes the login away (exit, reload, changes to the admin
 * user), judged on the lines the line editor would make of it. Returns
 * undefined for input to skip.
 */
export function sanitizeLine(line: string): string | undefined {
  const tabs: string[] = [];
  const lines = editedLines(line, tabs);
  const words = (l: string) =>
    l
      .trim()
      .split(/\s+/)
      .map((w) => w.replace(/"/g, '').toLowerCase());
  const prefixOf = (word: string, w: string | undefined) => !!w && word.startsWith(w);
  // A Tab may complete a keyword: refuse when it could complete one of the enders.
  if (tabs.some((t) => SESSION_ENDERS.some((e) => prefixOf(e, words(t)[0])))) return undefined;
  for (const l of lines) {
    const [first, second, third] = words(l);
    if (SESSION_ENDERS.some((e) => prefixOf(e, first))) return undefined;
    const [userWord, userName] = first === 'no' ? [second, third] : [first, second];
    if (prefixOf('username', userWord) && userName === 'admin') return undefined;
  }
  return line
    .replace(/:\/\/[^/\s"]*/g, '://127.0.0.1:1')
    .replace(/\b(\d{1,3})\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/g, (m, a: string) => (a === '127' ? m : '127.0.0.1'))
    .replace(/\S+/g, (w) => {
      const unquoted = w.replace(/^"|"$/g, '');
      const bare = /^\[([^\]]+)\](?::\d+)?$/.exec(unquoted)?.[1] ?? unquoted;
      return isIPv6(bare) && bare !== '::1' ? w.replace(bare, '::1') : w;
    });
}
