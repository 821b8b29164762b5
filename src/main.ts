/**
 * Composition root: parses the command line, builds the boxes and their
 * transports, and handles signals. `gvos-sim box` runs one box; `gvos-sim
 * lab ...` runs a lab (src/lab/).
 *
 * Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 2 for bad options, 1 for
 * a failure to start (one line on stderr, nothing left half-started).
 */
import { parseArgs } from 'node:util';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { CRYPTO_MODES, type CryptoMode } from './device/model.js';
import { BOX_ID_MAX, BOX_ID_MIN, isBoxId } from './device/limits.js';
import { SystemClock } from './lib/clock.js';
import { JsonLogger, parseLogLevel } from './lib/logger.js';
import { repoPath } from './lib/repo-root.js';

const BOX_HELP = `Usage: gvos-sim box [options]

Run one simulated GigaVUE-OS box: HTTPS management server, CLI over SSH and
raw TCP, ACME client, SNMP notifier. Prints one JSON "ready" line on stdout
when every listener is up; SIGTERM or SIGINT stops it cleanly.

Options (defaults in brackets):
  --box-id <n>           box-id in the cluster, 1-65535                 [1]
  --hostname <name>      hostname on first boot                         [gigavue-<box-id>]
  --address <ip>         IP address every listener binds                [127.0.0.1]
  --ssh-port <port>      SSH CLI port (0 = any free port)               [22]
  --cli-port <port>      raw TCP CLI port                               [23]
  --https-port <port>    HTTPS management port                          [443]
  --http-port <port>     HTTP port (ACME http-01, redirect to HTTPS)    [80]
  --snmp-port <port>     SNMP agent UDP port (snmp-server port wins)    [161]
  --data-dir <dir>       state directory (state.json, mode 0600)        [./.gvos-sim/box-<box-id>]
  --admin-password <pw>  admin password on first boot (or env GVOS_ADMIN_PASSWORD);
                         required on first boot, never empty
  --firmware <version>   firmware on first boot (see firmware-sim/)     [newest]
  --model <model>        product model on first boot                    [GigaVUE-HC2]
  --crypto-mode <mode>   classic | secure-crypto | fips, first boot     [classic]
  --seed <text>          identity seed (serial, host id)                [gvos-sim]
  --log-level <level>    debug | info | warn | error | silent (stderr)  [info]
  --login-timeout <s>    seconds a CLI connection (SSH, TCP) has to log in,
                         from its accept; then it is cut (1-3600)        [60]
  -h, --help             this help
  --version              print the simulator's version

The stored state wins on later boots: --hostname, --firmware, --model,
--crypto-mode and --admin-password only apply the first time.`;

const MAIN_HELP = `Usage: gvos-sim <command> [options]

Commands:
  box       run one simulated box (gvos-sim box --help)
  lab       run a lab of boxes with its CA and trap receiver (gvos-sim lab --help)

  -h, --help   this help
  --version    print the version`;

/** Thrown for bad options: printed as one line, exit code 2. */
export class UsageError extends Error {}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as {
      version: string;
    };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

function parsePort(name: string, v: string): number {
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535)
    throw new UsageError(`--${name} must be a port number 0-65535, got "${v}"`);
  return Number(v);
}

/** Parsed options of `gvos-sim box`. */
export interface BoxCommandOptions {
  boxId: number;
  hostname: string;
  address: string;
  ports: { ssh: number; cli: number; https: number; http: number; snmp: number };
  dataDir: string;
  adminPassword: string | undefined;
  firmware: string | undefined;
  model: string;
  cryptoMode: CryptoMode;
  seed: string;
  logLevel: string;
  /** A CLI connection must log in within this time from its accept (ms). */
  loginTimeoutMs: number;
}

/** Parse `gvos-sim box` arguments; throws UsageError with one line for anything wrong. */
export function parseBoxArgs(argv: string[], env: NodeJS.ProcessEnv): BoxCommandOptions | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'box-id': { type: 'string', default: '1' },
        hostname: { type: 'string' },
        address: { type: 'string', default: '127.0.0.1' },
        'ssh-port': { type: 'string', default: '22' },
        'cli-port': { type: 'string', default: '23' },
        'https-port': { type: 'string', default: '443' },
        'http-port': { type: 'string', default: '80' },
        'snmp-port': { type: 'string', default: '161' },
        'data-dir': { type: 'string' },
        'admin-password': { type: 'string' },
        firmware: { type: 'string' },
        model: { type: 'string', default: 'GigaVUE-HC2' },
        'crypto-mode': { type: 'string', default: 'classic' },
        seed: { type: 'string', default: 'gvos-sim' },
        'log-level': { type: 'string', default: 'info' },
        'login-timeout': { type: 'string', default: '60' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const s = (k: string) => values[k] as string;
  if (!/^\d{1,6}$/.test(s('box-id')) || !isBoxId(Number(s('box-id')))) {
    throw new UsageError(
      `--box-id must be a number from ${BOX_ID_MIN} to ${BOX_ID_MAX}, got "${s('box-id')}"`,
    );
  }
  const boxId = Number(s('box-id'));
  if (!isIP(s('address')))
    throw new UsageError(`--address must be an IPv4 or IPv6 address, got "${s('address')}"`);
  if (!(CRYPTO_MODES as readonly string[]).includes(s('crypto-mode'))) {
    throw new UsageError(
      `--crypto-mode must be one of ${CRYPTO_MODES.join(', ')}, got "${s('crypto-mode')}"`,
    );
  }
  try {
    parseLogLevel(s('log-level'));
  } catch (err) {
    throw new UsageError(`--log-level: ${(err as Error).message}`);
  }
  const loginTimeout = s('login-timeout');
  if (!/^\d{1,4}$/.test(loginTimeout) || Number(loginTimeout) < 1 || Number(loginTimeout) > 3600)
    throw new UsageError(`--login-timeout must be a number of seconds from 1 to 3600, got "${loginTimeout}"`);
  // An empty GVOS_ADMIN_PASSWORD counts as unset (later boots need none); an empty --admin-password is an error.
  const flag = values['admin-password'] as string | undefined;
  if (flag !== undefined && flag.length === 0) throw new UsageError('--admin-password may not be empty');
  const password = flag ?? (env.GVOS_ADMIN_PASSWORD || undefined);
  const hostname = (values.hostname as string | undefined) ?? `gigavue-${boxId}`;
  if (!/^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/.test(hostname)) {
    throw new UsageError(`--hostname must be 1-63 letters, digits or hyphens, got "${hostname}"`);
  }
  return {
    boxId,
    hostname,
    address: s('address'),
    ports: {
      ssh: parsePort('ssh-port', s('ssh-port')),
      cli: parsePort('cli-port', s('cli-port')),
      https: parsePort('https-port', s('https-port')),
      http: parsePort('http-port', s('http-port')),
      snmp: parsePort('snmp-port', s('snmp-port')),
    },
    dataDir: resolve((values['data-dir'] as string | undefined) ?? `.gvos-sim/box-${boxId}`),
    adminPassword: password,
    firmware: values.firmware as string | undefined,
    model: s('model'),
    cryptoMode: s('crypto-mode') as CryptoMode,
    seed: s('seed'),
    logLevel: s('log-level'),
    loginTimeoutMs: Number(loginTimeout) * 1000,
  };
}

async function runBox(argv: string[]): Promise<void> {
  const o = parseBoxArgs(argv, process.env);
  if (o === 'help') {
    console.log(BOX_HELP);
    return;
  }
  // Loaded here, not at the top: `gvos-sim lab status` and the other lab verbs start without the box stack.
  const [{ FileFirmwareCatalog }, { Cluster }, { BoxHost }] = await Promise.all([
    import('./firmware/catalog.js'),
    import('./device/cluster.js'),
    import('./host/box-host.js'),
  ]);
  const catalog = new FileFirmwareCatalog();
  const firmware = o.firmware ?? catalog.latest().version;
  if (!catalog.get(firmware)) {
    throw new UsageError(
      `--firmware ${firmware} is not in firmware-sim/ (have ${catalog
        .list()
        .map((i) => i.version)
        .join(', ')})`,
    );
  }
  const logger = new JsonLogger(parseLogLevel(o.logLevel));
  const cluster = new Cluster('gvos-sim');
  const host = await BoxHost.start({
    boxId: o.boxId,
    hostname: o.hostname,
    address: o.address,
    ports: o.ports,
    dataDir: o.dataDir,
    adminPassword: o.adminPassword,
    firmware,
    model: o.model,
    cryptoMode: o.cryptoMode,
    seed: o.seed,
    clock: new SystemClock(),
    logger,
    cluster,
    catalog,
    loginTimeoutMs: o.loginTimeoutMs,
    // A box that cannot come back from a reload says why and exits, never lingers without listeners.
    onReloadFailed: (err) => {
      console.error(`gvos-sim: reload failed: ${err.message.split('\n')[0]}`);
      process.exit(1);
    },
  });
  process.stdout.write(JSON.stringify({ event: 'ready', ...host.ready }) + '\n');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    host.stop().then(
      () => process.exit(0),
      (err) => {
        console.error(`gvos-sim: error while stopping: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Run `gvos-sim <argv>` (without node and the script); rejects with UsageError for bad usage. */
export async function run(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'box':
      return runBox(rest);
    case 'lab': {
      // Loaded on demand: `gvos-sim box` does not pay for the lab's imports.
      const { runLab } = await import('./lab/lab-command.js');
      return runLab(rest);
    }
    case '--version':
      console.log(packageVersion());
      return;
    case undefined:
    case '-h':
    case '--help':
      console.log(MAIN_HELP);
      return;
    default:
      throw new UsageError(`unknown command "${cmd}" (use box or lab; gvos-sim --help)`);
  }
}

/** The exit code and the one stderr line for an error that ended a command: 2 for bad usage, else 1. */
export function failure(err: unknown): { code: 1 | 2; line: string } {
  const msg = err instanceof Error ? err.message : String(err);
  return { code: err instanceof UsageError ? 2 : 1, line: `gvos-sim: ${msg.split('\n')[0]}` };
}

/**
 * The program: bin/gvos-sim.js calls this. Importing this module runs
 * nothing (so its exports can be tested); main() runs `gvos-sim <argv>` and
 * on failure prints one line on stderr and exits with failure()'s code.
 */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  try {
    await run(argv);
  } catch (err) {
    const f = failure(err);
    console.error(f.line);
    process.exit(f.code);
  }
}
