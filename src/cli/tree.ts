/**
 * The command tree: one tree per mode (standard, enable, config), built once
 * from the command entries in commands/. An entry declares its syntax in a
 * small notation, the modes it exists in, the lowest role that may run it,
 * the help text of its words, what it does, and (for configuration) how it
 * renders its own lines of `show running-config`. Adding a command is adding
 * one entry.
 *
 * Syntax notation:
 *   word                 a keyword (matched case-insensitively, any unique prefix;
 *                        listed as spelled, e.g. engineID)
 *   <name>               a parameter (one token; quoted tokens allowed)
 *   <name:int:1-365>     an integer parameter within a range
 *   <name:pem>           a PEM value, which must be in double quotes
 *   <name:rest>          every remaining token (joined with single spaces)
 *   [ ... ]              optional
 *   { a | b c | ... }    exactly one of the alternatives
 *
 * The trees are immutable once built and shared by every session.
 */
import type { Box } from '../device/box.js';
import type { Cluster } from '../device/cluster.js';
import { roleAllows, type Actor, type Role } from '../device/roles.js';

/** The CLI modes (contract: standard `>`, enable `#`, config `(config) #`). */
export type Mode = 'standard' | 'enable' | 'config';
/** Every mode, shallowest first. */
export const MODES: readonly Mode[] = ['standard', 'enable', 'config'];
/** Every mode: commands available anywhere (show commands, session settings). */
export const ANY_MODE: readonly Mode[] = MODES;
/** Enable and config mode. */
export const PRIVILEGED: readonly Mode[] = ['enable', 'config'];
/** Config mode only. */
export const CONFIG_ONLY: readonly Mode[] = ['config'];

/** The kind of value a parameter takes. */
type ParamType =
  { kind: 'word' } | { kind: 'int'; min: number; max: number } | { kind: 'pem' } | { kind: 'rest' };

/** The values a command was given: parameters by name, and the keywords typed (in full). */
export class Args {
  constructor(
    private readonly values: ReadonlyMap<string, string>,
    private readonly words: ReadonlySet<string>,
  ) {}

  /** True when the keyword `word` (spelled as in the syntax) is on the line. */
  has(word: string): boolean {
    return this.words.has(word);
  }

  /** The first of `words` that is on the line, if any (for `{a|b|c}` alternatives). */
  which<T extends string>(words: readonly T[]): T | undefined {
    return words.find((w) => this.words.has(w));
  }

  /** A parameter the syntax makes mandatory on this path. Throws (a bug) when absent. */
  get(name: string): string {
    const v = this.values.get(name);
    if (v === undefined) throw new Error(`internal: parameter <${name}> missing`);
    return v;
  }

  /** An optional parameter. */
  opt(name: string): string | undefined {
    return this.values.get(name);
  }

  /** An integer parameter (already range-checked by the parser), if present. */
  optInt(name: string): number | undefined {
    const v = this.values.get(name);
    return v === undefined ? undefined : Number(v);
  }
}

/** What a command may change of its session. Implemented by Session. */
export interface TerminalControl {
  readonly mode: Mode;
  /** Enter a deeper mode (enable, config). */
  enter(mode: Mode): void;
  /** Leave one mode; in standard mode, close the session. */
  exit(): void;
  /** End the session from any mode (`quit`, `logout`). */
  logout(): void;
  /** Back to enable mode from config mode (`end`, Ctrl-Z). */
  toEnable(): void;
  setPaging(on: boolean): void;
  /** Lines per screen; 0 means no paging. */
  setLength(lines: number): void;
  setType(type: string): void;
  /** The lines typed in this session, oldest first (bounded; see line-editor.ts). */
  readonly history: readonly string[];
}

/** Everything a command's run() gets. Boxes are looked up at the time of the call, never kept. */
export interface CommandContext {
  readonly actor: Actor;
  readonly cluster: Cluster;
  /** The box-id of the box the session is on. */
  readonly boxId: number;
  /** The session's own box. Throws DeviceError('not-found') while it is being reloaded. */
  box(): Box;
  /** The box named by the `box-id` parameter, else the session's own box. */
  target(a: Args): Box;
  readonly terminal: TerminalControl;
  /** Write text at once, before the command finishes (reload prints before it acts). */
  say(text: string): void;
}

/** What run() may return: lines of output (joined with newlines), or nothing. */
export type CommandOutput = string | string[] | void;

/** One command of the CLI. */
export interface CommandSpec {
  /** The grammar (see the module comment). */
  syntax: string;
  modes: readonly Mode[];
  /** The lowest role that may see and run it. */
  role: Role;
  /** Help text per keyword or `<param>` of this entry (shared words may come from the common dictionary). */
  help?: Readonly<Record<string, string>>;
  /** Keywords that work but are never listed by `?` or Tab. */
  hidden?: readonly string[];
  run(ctx: CommandContext, a: Args): CommandOutput | Promise<CommandOutput>;
  /**
   * The existing values of a parameter, by its name (`<name>` -> the certificate names), that Tab
   * and `?` offer at that place. Read from the session's box when the key is pressed.
   */
  values?: Readonly<Record<string, NameSource>>;
  /** Section of `show running-config` this entry's lines belong to. */
  section?: string;
  /**
   * This entry's lines of `show running-config`, from the box's state. Secrets masked.
   * `full` (`show running-config full`): also the lines of settings at their defaults.
   */
  render?(box: Box, full: boolean): string[];
}

/** The existing names a parameter may take, read from a box (certificate names, user names...). */
export type NameSource = (box: Box) => readonly string[];

/** A node of a mode's tree. */
export interface TreeNode {
  readonly kind: 'keyword' | 'param';
  /** The keyword as the syntax spells it (matched case-insensitively), or the parameter's name. */
  readonly word: string;
  readonly type?: ParamType;
  readonly help: string;
  /** The lowest role of any command through this node: who may see it. */
  minRole: Role;
  readonly hidden: boolean;
  readonly children: TreeNode[];
  /** The command that may end here. */
  command?: CommandSpec;
  /** A parameter's existing values (CommandSpec.values), offered by Tab and `?`. */
  values?: NameSource;
}

/** The root of each mode's tree. */
export type ModeTrees = Readonly<Record<Mode, TreeNode>>;

/** True when `role` may see (and use) `node`. */
export function visibleTo(node: TreeNode, role: Role): boolean {
  return roleAllows(role, node.minRole);
}

// ------------------------------------------------------------------ syntax

/** One step of an expanded syntax path. */
export type SyntaxElement =
  { kind: 'keyword'; word: string } | { kind: 'param'; name: string; type: ParamType };

/** Expand a syntax string into every linear path it allows. Throws Error on a malformed syntax (a bug). */
export function expandSyntax(syntax: string): SyntaxElement[][] {
  const lexemes = syntax.match(/\[|\]|\{|\}|\||<[^>\s]+>|[^\s[\]{}|<>]+/g) ?? [];
  let pos = 0;
  const fail = (why: string): never => {
    throw new Error(`bad syntax "${syntax}": ${why}`);
  };

  const parseSeq = (): SyntaxElement[][] => {
    let paths: SyntaxElement[][] = [[]];
    while (pos < lexemes.length && !['|', ']', '}'].includes(lexemes[pos]!)) {
      const alts = parseElem();
      paths = paths.flatMap((p) => alts.map((a) => [...p, ...a]));
    }
    return paths;
  };
  const parseAlts = (close: string): SyntaxElement[][] => {
    const all = parseSeq();
    while (lexemes[pos] === '|') {
      pos++;
      all.push(...parseSeq());
    }
    if (lexemes[pos] !== close) fail(`expected "${close}"`);
    pos++;
    return all;
  };
  const parseElem = (): SyntaxElement[][] => {
    const lx = lexemes[pos++]!;
    if (lx === '[') return [[], ...parseAlts(']')];
    if (lx === '{') return parseAlts('}');
    if (lx.startsWith('<')) return [[parseParam(lx.slice(1, -1))]];
    return [[{ kind: 'keyword', word: lx }]];
  };
  const parseParam = (spec: string): SyntaxElement => {
    const [name, kind, range] = spec.split(':');
    if (!name) fail('empty parameter name');
    switch (kind ?? 'word') {
      case 'word':
        return { kind: 'param', name: name!, type: { kind: 'word' } };
      case 'pem':
        return { kind: 'param', name: name!, type: { kind: 'pem' } };
      case 'rest':
        return { kind: 'param', name: name!, type: { kind: 'rest' } };
      case 'int': {
        const m = /^(\d+)-(\d+)$/.exec(range ?? '');
        if (!m) fail(`parameter <${spec}> needs a range, e.g. int:1-365`);
        return { kind: 'param', name: name!, type: { kind: 'int', min: Number(m![1]), max: Number(m![2]) } };
      }
      default:
        return fail(`unknown parameter type "${kind}"`);
    }
  };

  const paths = parseSeq();
  if (pos !== lexemes.length) fail(`unexpected "${lexemes[pos]}"`);
  return paths;
}

const lowerRole = (a: Role, b: Role): Role => (roleAllows(b, a) ? a : b);

/**
 * Build one tree per mode from the command entries. `commonHelp` gives the
 * help of words shared by many entries (show, no, crypto ...). Throws Error
 * when an entry is malformed, a word has no help, two entries end at the
 * same place, or a node would get two different parameters (bugs, caught by
 * the unit tests at once).
 */
export function buildTrees(
  specs: readonly CommandSpec[],
  commonHelp: Readonly<Record<string, string>>,
): ModeTrees {
  const roots = {} as Record<Mode, TreeNode>;
  for (const m of MODES) {
    roots[m] = { kind: 'keyword', word: '', help: '', minRole: 'admin', hidden: false, children: [] };
  }
  for (const spec of specs) {
    const paths = expandSyntax(spec.syntax);
    for (const mode of spec.modes) {
      for (const path of paths) insertPath(roots[mode], path, spec, commonHelp);
    }
  }
  return roots;
}

function insertPath(
  root: TreeNode,
  path: SyntaxElement[],
  spec: CommandSpec,
  commonHelp: Readonly<Record<string, string>>,
): void {
  if (path.length === 0) throw new Error(`bad syntax "${spec.syntax}": empty command`);
  let node = root;
  node.minRole = lowerRole(node.minRole, spec.role);
  path.forEach((el, i) => {
    let child =
      el.kind === 'keyword'
        ? node.children.find((c) => c.kind === 'keyword' && c.word.toLowerCase() === el.word.toLowerCase())
        : node.children.find((c) => c.kind === 'param');
    if (
      child &&
      el.kind === 'param' &&
      (child.word !== el.name || JSON.stringify(child.type) !== JSON.stringify(el.type))
    ) {
      throw new Error(
        `syntax "${spec.syntax}": parameter <${el.name}> clashes with <${child.word}> at the same place`,
      );
    }
    if (el.kind === 'param' && el.type.kind === 'rest' && i !== path.length - 1) {
      throw new Error(`syntax "${spec.syntax}": <${el.name}:rest> must come last`);
    }
    if (!child) {
      const key = el.kind === 'keyword' ? el.word : `<${el.name}>`;
      const help = spec.help?.[key] ?? commonHelp[key];
      if (!help) throw new Error(`syntax "${spec.syntax}": no help text for "${key}"`);
      child = {
        kind: el.kind,
        word: el.kind === 'keyword' ? el.word : el.name,
        ...(el.kind === 'param' ? { type: el.type } : {}),
        help,
        minRole: spec.role,
        hidden: el.kind === 'keyword' && (spec.hidden ?? []).includes(el.word),
        children: [],
      };
      node.children.push(child);
    }
    child.minRole = lowerRole(child.minRole, spec.role);
    if (el.kind === 'param' && spec.values?.[el.name]) child.values ??= spec.values[el.name];
    node = child;
  });
  if (node.command && node.command !== spec) {
    throw new Error(`syntax "${spec.syntax}" ends where "${node.command.syntax}" already ends`);
  }
  node.command = spec;
}
