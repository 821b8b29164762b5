/**
 * Modes and session settings (CLI contract, "Session and modes"): enable,
 * configure terminal, exit, end, and the `cli session` settings, which
 * belong to the session and are not part of the running config; and the
 * box's saved default `[no] cli default paging enable`, which is.
 */
import { ANY_MODE, CONFIG_ONLY, type CommandSpec } from '../tree.js';

const CLI_HELP = {
  cli: 'Settings of the CLI',
  session: 'Settings of this CLI session only',
  paging: 'Page long output (lines N-M)',
  enable: 'Turn it on',
  terminal: 'Terminal settings of this session',
  length: 'Lines per screen',
  '<lines>': 'Lines per screen (0 or 999: no paging)',
  type: 'Terminal type',
  dumb: 'A terminal without cursor control',
  vt100: 'A VT100-compatible terminal',
  xterm: 'An xterm-compatible terminal',
  ansi: 'An ANSI terminal',
} as const;

/** Mode changes and session settings; of them only `cli default paging` is part of the running config. */
export const MODE_COMMANDS: readonly CommandSpec[] = [
  {
    syntax: 'enable',
    modes: ['standard'],
    role: 'monitor',
    help: { enable: 'Enter enable mode' },
    run: (ctx) => ctx.terminal.enter('enable'),
  },
  {
    // EMULATION: `disable` (enable -> standard) is not in the contract; the Onyx family has it.
    syntax: 'disable',
    modes: ['enable'],
    role: 'monitor',
    help: { disable: 'Leave enable mode' },
    run: (ctx) => ctx.terminal.exit(),
  },
  {
    syntax: 'configure terminal',
    modes: ['enable'],
    role: 'operator',
    help: { configure: 'Enter configuration mode', terminal: 'Configure from this terminal' },
    run: (ctx) => ctx.terminal.enter('config'),
  },
  {
    syntax: 'exit',
    modes: ANY_MODE,
    role: 'monitor',
    help: { exit: 'Leave this mode (in standard mode: log out)' },
    run: (ctx) => ctx.terminal.exit(),
  },
  {
    // EMULATION: `end` exists in config mode only (elsewhere there is nothing to end); Ctrl-Z likewise.
    syntax: 'end',
    modes: CONFIG_ONLY,
    role: 'monitor',
    help: { end: 'Return to enable mode' },
    run: (ctx) => ctx.terminal.toEnable(),
  },
  {
    // EMULATION: the session settings work in every mode and for every role (netmiko sends
    // `no cli session paging enable` right after login, in standard mode).
    syntax: 'cli session paging enable',
    modes: ANY_MODE,
    role: 'monitor',
    help: CLI_HELP,
    run: (ctx) => ctx.terminal.setPaging(true),
  },
  {
    syntax: 'no cli session paging enable',
    modes: ANY_MODE,
    role: 'monitor',
    help: { ...CLI_HELP, paging: 'Stop paging long output' },
    run: (ctx) => ctx.terminal.setPaging(false),
  },
  {
    // EMULATION: operator role (a box-wide setting, like the hostname); saved by `write memory`.
    syntax: 'cli default paging enable',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: { ...CLI_HELP, default: 'Settings of every CLI session (saved with "write memory")' },
    run: (ctx) => ctx.box().setCliDefaultPaging(ctx.actor, true),
    section: 'CLI',
    // The default (on) shows only in `show running-config full`.
    render: (box, full) =>
      box.config.cliPaging === false
        ? ['no cli default paging enable']
        : full
          ? ['cli default paging enable']
          : [],
  },
  {
    syntax: 'no cli default paging enable',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: {
      ...CLI_HELP,
      default: 'Settings of every CLI session (saved with "write memory")',
      paging: 'Sessions do not page long output unless they turn it on',
    },
    run: (ctx) => ctx.box().setCliDefaultPaging(ctx.actor, false),
  },
  {
    syntax: 'cli session terminal length <lines:int:0-999>',
    modes: ANY_MODE,
    role: 'monitor',
    help: CLI_HELP,
    run: (ctx, a) => ctx.terminal.setLength(a.optInt('lines')!),
  },
  {
    // EMULATION: the contract names `dumb`; vt100, xterm and ansi are accepted too. The type changes nothing.
    syntax: 'cli session terminal type {dumb|vt100|xterm|ansi}',
    modes: ANY_MODE,
    role: 'monitor',
    help: CLI_HELP,
    run: (ctx, a) => ctx.terminal.setType(a.which(['dumb', 'vt100', 'xterm', 'ansi'])!),
  },
  {
    // The short forms collectors send (Netshot, QualiSystems: `terminal length 999`).
    syntax: 'terminal length <lines:int:0-999>',
    modes: ANY_MODE,
    role: 'monitor',
    help: { ...CLI_HELP, terminal: 'Terminal settings of this session (short for "cli session terminal")' },
    run: (ctx, a) => ctx.terminal.setLength(a.optInt('lines')!),
  },
  {
    syntax: 'terminal type {dumb|vt100|xterm|ansi}',
    modes: ANY_MODE,
    role: 'monitor',
    help: { ...CLI_HELP, terminal: 'Terminal settings of this session (short for "cli session terminal")' },
    run: (ctx, a) => ctx.terminal.setType(a.which(['dumb', 'vt100', 'xterm', 'ansi'])!),
  },
  {
    syntax: '{quit|logout}',
    modes: ANY_MODE,
    role: 'monitor',
    help: { quit: 'Log out (from any mode)', logout: 'Log out (from any mode)' },
    run: (ctx) => ctx.terminal.logout(),
  },
  {
    syntax: 'show history',
    modes: ANY_MODE,
    role: 'monitor',
    help: { history: 'The commands typed in this session (passwords and communities masked)' },
    run: (ctx) => renderHistory(ctx.terminal.history),
  },
];

/**
 * `show history`: one numbered line per command, oldest first.
 * EMULATION: the framework's layout is not documented; the values after
 * `password`, `community`, `auth <protocol>` and `priv <protocol>` and PEM
 * values print as `********`, as in the running config.
 */
function renderHistory(lines: readonly string[]): string[] {
  const w = String(lines.length).length;
  return lines.map((l, i) => `  ${String(i + 1).padStart(w)}  ${maskSecrets(l)}`);
}

const MASK = '********';

/** The line with its secret values replaced by the mask (see renderHistory). */
function maskSecrets(line: string): string {
  return line
    .replace(/\b(pem\s+)"[^"]*"?/gi, `$1"${MASK}"`)
    .replace(/\b((?:password|community)\s+)("[^"]*"?|\S+)/gi, `$1${MASK}`)
    .replace(/\b((?:auth|priv)\s+\S+\s+)("[^"]*"?|\S+)/gi, `$1${MASK}`)
    .replace(
      /\b((?:traps|informs)(?:\s+port\s+\S+)?(?:\s+version\s+(?:1|2c))?\s+)(?!port\b|version\b|disable\b)("[^"]*"?|\S+)/gi,
      `$1${MASK}`,
    );
}
