/**
 * `gvos-sim lab ...`: bring a lab up in the foreground, and drive a running
 * lab from another shell through its control plane (the state file gives
 * the URL and token, so no topology is needed after `lab up`).
 *
 * Exit codes: 0 done; 1 the operation failed (one line on stderr); 2 bad
 * usage (one line naming the option and what is expected).
 */
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { FileFirmwareCatalog } from '../firmware/catalog.js';
import { MAX_LAB_BOXES as MAX_BOX_ID } from '../device/limits.js';
import { JsonLogger, parseLogLevel } from '../lib/logger.js';
import { parseTrapdLine, varbindValue } from '../snmp/trapd-launcher.js';
import { ControlPlane } from './control-plane.js';
import { FAULT_NAMES } from './faults.js';
import { FLEET_OPS, Lab, type FleetResult, type LabBoxStatus, type LabStateFile } from './lab.js';
import {
  DEFAULT_LABS_DIR,
  endPeer,
  labNames,
  pidAlive,
  readStateFile,
  removeStateFile,
  waitPidGone,
  writeStateFile,
} from './lab-state.js';
import { LineProgress, LiveTableProgress } from './progress.js';
import { defaultTopology, parseTopology, TopologyError, type TopologyContext } from './topology.js';

/** A usage error of `gvos-sim lab`: one line, exit code 2. */
class LabUsageError extends Error {}

/** The text of `gvos-sim lab --help`. */
const LAB_HELP = `Usage: gvos-sim lab <verb> [options]

Bring up a lab of simulated GigaVUE-OS boxes with its CA and trap receiver,
and drive it while it runs.

  lab up [topology.yaml] [--boxes N] [--name <lab>] [--keep-state]
                          start the lab in the foreground (Ctrl-C or "lab down" stops it)
  lab status [--json]     boxes, addresses, ports, certificate status and expiry
  lab down                stop the lab: every box, every process it started, every port
  lab add [--box-id N] [--hostname H] [--crypto-mode M] [--model M] [--firmware V]
  lab remove <box-id>     stop a box and delete its state
  lab stop|start|kill|reload <box-id>
                          kill = abrupt (no state flushed); start brings it back
  lab fault <${FAULT_NAMES.join('|')}> on|off [--box <ids>] [--delay-ms N]
  lab faults [--json]     every fault per box, on/off and how often it took effect
  lab time advance <duration> [--box <ids>] [--keep]
                          jump box clocks forward (30d, 20h, 90m, 45s): what falls due starts;
                          the boxes come back to real time at once unless --keep
  lab acme <${FLEET_OPS.join('|')}> [--box <ids>] [--json]
                          fleet ACME with progress and a result table
  lab inventory [--format json|csv] [--output <file>]
  lab traps [--json]      the notifications in the lab's trap log

Common options:
  --name <lab>            which lab (default: the only running one; "lab" for up)
  --labs-dir <dir>        where labs keep their state     [${DEFAULT_LABS_DIR}]
  --box <ids>             box-ids, e.g. 1,3,5 or 2-4 (default: all)
  -h, --help              this help`;

const COMMON = {
  name: { type: 'string' },
  'labs-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Run `gvos-sim lab <argv>`. Resolves when the verb is done (for `up`: after
 * the lab went down); rejects with LabUsageError for bad usage and Error for
 * failures, each with a one-line message.
 */
export async function runLab(argv: string[]): Promise<void> {
  try {
    await dispatch(argv);
  } catch (err) {
    if (err instanceof LabUsageError) {
      console.error(`gvos-sim: ${err.message}`);
      process.exit(2);
    }
    if (err instanceof TopologyError) {
      // Every problem, one per line: the user fixes them all in one go.
      console.error(err.problems.map((p) => `gvos-sim: ${p}`).join('\n'));
      process.exit(2);
    }
    throw err;
  }
}

async function dispatch(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'up':
      return up(rest);
    case 'status':
    case 'boxes':
      return status(rest);
    case 'down':
      return down(rest);
    case 'add':
      return add(rest);
    case 'remove':
    case 'stop':
    case 'start':
    case 'kill':
    case 'reload':
      return boxVerb(verb, rest);
    case 'fault':
      return fault(rest);
    case 'faults':
      return faults(rest);
    case 'time':
      return time(rest);
    case 'acme':
      return acme(rest);
    case 'inventory':
      return inventory(rest);
    case 'traps':
      return traps(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      console.log(LAB_HELP);
      return;
    default:
      throw new LabUsageError(
        `unknown lab verb "${verb}" (use up, status, down, add, remove, stop, start, kill, reload, fault, faults, time, acme, inventory, traps)`,
      );
  }
}

type Opts = Record<string, string | boolean | undefined>;

function parse(
  argv: string[],
  options: Record<string, { type: 'string' | 'boolean'; short?: string }>,
  positionals = 0,
): { values: Opts; positionals: string[] } {
  let r: { values: Opts; positionals: string[] };
  try {
    r = parseArgs({
      args: argv,
      options: { ...COMMON, ...options },
      strict: true,
      allowPositionals: positionals > 0,
    }) as { values: Opts; positionals: string[] };
  } catch (err) {
    throw new LabUsageError((err as Error).message.split('\n')[0]!);
  }
  if (r.positionals.length > positionals)
    throw new LabUsageError(`unexpected argument "${r.positionals[positionals]}"`);
  return r;
}

function labsDir(v: Opts): string {
  return resolve((v['labs-dir'] as string | undefined) ?? process.env.GVOS_SIM_LABS_DIR ?? DEFAULT_LABS_DIR);
}

// ---------------------------------------------------------------- up

async function up(argv: string[]): Promise<void> {
  const { values: v, positionals } = parse(
    argv,
    { boxes: { type: 'string' }, 'keep-state': { type: 'boolean' }, 'log-level': { type: 'string' } },
    1,
  );
  if (v.help) return void console.log(LAB_HELP);
  const t0 = Date.now();
  const dir = labsDir(v);
  let boxes: number | undefined;
  if (v.boxes !== undefined) {
    if (!/^\d{1,4}$/.test(v.boxes as string) || Number(v.boxes) < 1 || Number(v.boxes) > MAX_BOX_ID)
      throw new LabUsageError(`--boxes must be a number from 1 to ${MAX_BOX_ID}, got "${v.boxes}"`);
    boxes = Number(v.boxes);
  }
  const name = v.name as string | undefined;
  if (name !== undefined && !/^[a-z0-9][a-z0-9-]{0,31}$/.test(name))
    throw new LabUsageError(`--name must be 1-32 lower-case letters, digits or hyphens, got "${name}"`);
  let level: ReturnType<typeof parseLogLevel>;
  try {
    level = parseLogLevel((v['log-level'] as string | undefined) ?? 'info');
  } catch (err) {
    throw new LabUsageError(`--log-level: ${(err as Error).message}`);
  }

  const catalog = new FileFirmwareCatalog();
  const ctx: TopologyContext = {
    firmware: catalog.list().map((i) => ({ version: i.version, models: i.models, acme: i.features.acme })),
    defaultFirmware: catalog.latest().version,
    ...(boxes !== undefined ? { boxCount: boxes } : {}),
  };
  const file = positionals[0];
  let topology;
  if (file) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new LabUsageError(
        `cannot read the topology ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    topology = parseTopology(text, file, ctx);
  } else {
    topology = defaultTopology(boxes ?? 3, ctx);
  }
  if (name) topology = { ...topology, lab: name };

  const existing = await readStateFile(dir, topology.lab);
  // In a container the lab is PID 1 on every start: a state file naming our own PID is from an earlier run.
  if (existing && existing.pid !== process.pid && pidAlive(existing.pid)) {
    throw new Error(
      `lab ${topology.lab} is already running (pid ${existing.pid}); stop it with "gvos-sim lab down --name ${topology.lab}"`,
    );
  }
  if (existing) await cleanupDeadLab(dir, existing);

  // The boxes' JSON log lines go to the lab's log file: the terminal shows the progress.
  mkdirSync(join(dir, topology.lab), { recursive: true, mode: 0o700 });
  const logFile = join(dir, topology.lab, 'lab.log');
  const logger = new JsonLogger(level, { lab: topology.lab }, (line) => appendFileSync(logFile, line + '\n'));
  const tty = process.stdout.isTTY === true;
  const progress = tty
    ? new LiveTableProgress((s) => process.stdout.write(s))
    : new LineProgress((s) => process.stdout.write(s));
  console.log(
    `gvos-sim lab ${topology.lab}: ${topology.boxes.length} boxes${file ? ` from ${file}` : ''} (log: ${logFile})`,
  );

  // The state file exists from the start (no control plane yet), with each peer's PID as soon as it runs:
  // `lab down` can stop a lab that is still starting, and clean up after one that died while starting.
  const state: LabStateFile = {
    name: topology.lab,
    pid: process.pid,
    controlPlane: { url: '', token: '' },
    processes: [],
    trapLog: null,
    startedAt: new Date().toISOString(),
  };
  // Serialised: a late write of an earlier state must never overtake the final one.
  let stateWrites = Promise.resolve();
  const saveState = (next: LabStateFile) => (stateWrites = stateWrites.then(() => writeStateFile(dir, next)));
  await saveState(state);
  let interrupted: string | undefined;
  const early = (sig: string) => () => {
    interrupted = sig;
    process.stdout.write(
      `\nlab ${topology.lab}: ${sig}; stopping once the boxes that are starting are up...\n`,
    );
  };
  const onEarlyInt = early('SIGINT');
  const onEarlyTerm = early('SIGTERM');
  process.once('SIGINT', onEarlyInt);
  process.once('SIGTERM', onEarlyTerm);
  let lab: Lab;
  try {
    lab = await Lab.up({
      topology,
      labsDir: dir,
      catalog,
      logger,
      progress,
      keepState: v['keep-state'] === true,
      onProcesses: (processes) => void saveState({ ...state, processes }).catch(() => undefined),
    });
  } catch (err) {
    await stateWrites.catch(() => undefined);
    await removeStateFile(dir, topology.lab);
    throw err;
  } finally {
    process.off('SIGINT', onEarlyInt);
    process.off('SIGTERM', onEarlyTerm);
  }
  let plane: ControlPlane | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (why: string) => {
    stopping ??= (async () => {
      process.stdout.write(`\nlab ${topology.lab}: stopping (${why})...\n`);
      await plane?.close();
      await lab.down();
      await stateWrites.catch(() => undefined);
      await removeStateFile(dir, topology.lab);
      process.stdout.write(`lab ${topology.lab}: down\n`);
    })();
    return stopping;
  };
  try {
    const token = randomBytes(24).toString('base64url');
    plane = new ControlPlane(lab, token, () => void stop('lab down'));
    const url = await plane.listen();
    await saveState({
      ...state,
      controlPlane: { url, token },
      processes: lab.processes,
      trapLog: lab.trapLog,
    });
  } catch (err) {
    await stop('start failed');
    throw err;
  }
  if (progress instanceof LiveTableProgress) progress.finish();
  const elapsed = ((Date.now() - t0) / 1000).toFixed(1);
  const rows = lab.status();
  console.log('');
  console.log(statusTable(rows));
  console.log('');
  const ok = rows.filter((r) => r.certificate.status === 'valid').length;
  console.log(
    `lab ${topology.lab} is up: ${rows.length} boxes, ${ok} with a valid certificate, in ${elapsed} s`,
  );
  const first = rows.find((r) => r.boxId === 3) ?? rows[0];
  if (first) {
    const portOpt = first.ports.ssh === 22 ? '' : ` -p ${first.ports.ssh}`;
    console.log(
      `log in:      ssh${portOpt} admin@${first.address}   (password: ${topology.adminPassword ? 'from the topology' : process.env[topology.adminPasswordEnv] ? `$${topology.adminPasswordEnv}` : lab.adminPassword})`,
    );
    console.log(
      `web:         https://${first.address}${first.ports.https === 443 ? '' : ':' + first.ports.https}/`,
    );
  }
  if (lab.caRootPem) {
    const rootFile = join(lab.dir, 'ca-root.pem');
    await writeFile(rootFile, lab.caRootPem);
    console.log(`CA root:     ${rootFile}`);
  }
  if (lab.trapLog)
    console.log(
      `trap log:    ${lab.trapLog}   (gvos-sim lab traps${topology.lab === 'lab' ? '' : ' --name ' + topology.lab})`,
    );
  console.log(
    `stop:        Ctrl-C, or gvos-sim lab down${topology.lab === 'lab' ? '' : ' --name ' + topology.lab}`,
  );

  if (interrupted) void stop(interrupted);
  await new Promise<void>((resolveUp) => {
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
    // `lab down` arrives through the control plane; either way `stopping` is set.
    const t = setInterval(() => {
      if (!stopping) return;
      clearInterval(t);
      void stopping.then(resolveUp, resolveUp);
    }, 100);
  });
  process.exit(0);
}

/** A lab whose process died (kill -9, power): end its recorded peers by PID and forget it. */
async function cleanupDeadLab(dir: string, s: LabStateFile): Promise<number> {
  let ended = 0;
  for (const p of s.processes) if (await endPeer(p)) ended++;
  await removeStateFile(dir, s.name);
  return ended;
}

// ---------------------------------------------------------------- the table

/** The final table of `lab up` and `lab status`. */
function statusTable(rows: LabBoxStatus[]): string {
  const head = [
    'box-id',
    'hostname',
    'address',
    'ssh',
    'https',
    'snmp',
    'state',
    'certificate',
    'serial',
    'expires',
  ];
  const body = rows.map((r) => [
    String(r.boxId),
    r.hostname,
    r.address,
    String(r.ports.ssh),
    String(r.ports.https),
    String(r.ports.snmp),
    r.state,
    r.certificate.status + (r.certificate.reason ? ` (${r.certificate.reason.slice(0, 60)})` : ''),
    r.certificate.serial ?? '-',
    r.certificate.expires ? r.certificate.expires.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-',
  ]);
  return table(head, body);
}

function table(head: string[], body: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

// ---------------------------------------------------------------- client of a running lab

interface Target {
  dir: string;
  state: LabStateFile;
}

async function target(v: Opts): Promise<Target> {
  const dir = labsDir(v);
  let name = v.name as string | undefined;
  if (!name) {
    const names = await labNames(dir);
    if (names.length === 0)
      throw new Error(`no lab is running here (${dir}); start one with "gvos-sim lab up"`);
    if (names.length > 1)
      throw new LabUsageError(`several labs run here (${names.join(', ')}); choose one with --name`);
    name = names[0]!;
  }
  const state = await readStateFile(dir, name);
  if (!state) throw new Error(`lab ${name} is not running (no state in ${join(dir, name)})`);
  if (pidAlive(state.pid) && !state.controlPlane.url)
    throw new Error(`lab ${name} is still starting; try again in a moment`);
  if (!pidAlive(state.pid))
    throw new Error(
      `lab ${name} is not running (its process ${state.pid} is gone); "gvos-sim lab down --name ${name}" cleans up after it`,
    );
  return { dir, state };
}

/** One control-plane call; resolves the parsed JSON (or text for CSV); rejects with the plane's one-line error. */
function callPlane(
  state: LabStateFile,
  method: string,
  path: string,
  body?: unknown,
  onLine?: (line: unknown) => void,
): Promise<unknown> {
  return new Promise((resolveCall, reject) => {
    const req = request(
      `${state.controlPlane.url}${path}`,
      {
        method,
        headers: { authorization: `Bearer ${state.controlPlane.token}`, 'content-type': 'application/json' },
      },
      (res) => {
        if ((res.headers['content-type'] ?? '').includes('ndjson') && onLine) {
          let last: unknown;
          createInterface({ input: res })
            .on('line', (l) => {
              if (!l.trim()) return;
              last = JSON.parse(l) as unknown;
              onLine(last);
            })
            .on('close', () => resolveCall(last));
          return;
        }
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          const isJson = (res.headers['content-type'] ?? '').includes('json');
          const parsed = isJson && text ? (JSON.parse(text) as unknown) : text;
          if ((res.statusCode ?? 500) >= 400)
            // problem+json: `detail` is the one-line reason.
            reject(new Error((parsed as { detail?: string }).detail ?? `HTTP ${res.statusCode}`));
          else resolveCall(parsed);
        });
      },
    );
    req.on('error', (err) =>
      reject(
        new Error(`the lab's control plane at ${state.controlPlane.url} did not answer: ${err.message}`),
      ),
    );
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** "1,3,5", "2-4", "all" -> box-ids (undefined = all). */
function parseBoxList(s: string | undefined): number[] | undefined {
  if (s === undefined || s === 'all') return undefined;
  const out = new Set<number>();
  for (const part of s.split(',')) {
    const m = /^(\d{1,2})(?:-(\d{1,2}))?$/.exec(part.trim());
    if (!m) throw new LabUsageError(`--box takes box-ids like 1,3,5 or 2-4 or all, got "${s}"`);
    const a = Number(m[1]);
    const b = m[2] ? Number(m[2]) : a;
    for (let i = Math.min(a, b); i <= Math.max(a, b); i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/** "30d", "20h", "90m", "45s", "1500ms" or plain milliseconds -> ms. */
function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) throw new LabUsageError(`duration must look like 30d, 20h, 90m, 45s or 1500ms, got "${s}"`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 'ms') as 'ms'];
  return Math.round(n * unit);
}

async function status(argv: string[]): Promise<void> {
  const { values: v } = parse(argv, { json: { type: 'boolean' } });
  if (v.help) return void console.log(LAB_HELP);
  const { state } = await target(v);
  const rows = (await callPlane(state, 'GET', '/v1/boxes')) as LabBoxStatus[];
  if (v.json) {
    console.log(JSON.stringify(rows));
    return;
  }
  console.log(statusTable(rows));
  if (state.trapLog) console.log(`\ntrap log: ${state.trapLog}`);
}

async function down(argv: string[]): Promise<void> {
  const { values: v } = parse(argv, {});
  if (v.help) return void console.log(LAB_HELP);
  const dir = labsDir(v);
  let name = v.name as string | undefined;
  if (!name) {
    const names = await labNames(dir);
    if (names.length === 0) throw new Error(`no lab is running here (${dir})`);
    if (names.length > 1)
      throw new LabUsageError(`several labs run here (${names.join(', ')}); choose one with --name`);
    name = names[0]!;
  }
  const state = await readStateFile(dir, name);
  if (!state) throw new Error(`lab ${name} is not running (no state in ${join(dir, name)})`);
  if (pidAlive(state.pid)) {
    await callPlane(state, 'POST', '/v1/down').catch(() => {
      // The plane did not answer: the lab process is stuck; end it by PID.
      process.kill(state.pid, 'SIGTERM');
    });
    if (!(await waitPidGone(state.pid, 60_000))) {
      process.kill(state.pid, 'SIGKILL');
      await waitPidGone(state.pid, 5_000);
    }
  }
  // Whatever the lab process could not stop (it was killed): its peers, by PID.
  const ended = await cleanupDeadLab(dir, state);
  console.log(`lab ${name} is down${ended ? ` (${ended} left-over processes ended)` : ''}`);
}

async function add(argv: string[]): Promise<void> {
  const { values: v } = parse(argv, {
    'box-id': { type: 'string' },
    hostname: { type: 'string' },
    'crypto-mode': { type: 'string' },
    model: { type: 'string' },
    firmware: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (v.help) return void console.log(LAB_HELP);
  const { state } = await target(v);
  const body: Record<string, unknown> = {};
  if (v['box-id'] !== undefined) {
    if (
      !/^\d{1,4}$/.test(v['box-id'] as string) ||
      Number(v['box-id']) < 1 ||
      Number(v['box-id']) > MAX_BOX_ID
    )
      throw new LabUsageError(`--box-id must be a number from 1 to ${MAX_BOX_ID}, got "${v['box-id']}"`);
    body.boxId = Number(v['box-id']);
  }
  if (v.hostname) body.hostname = v.hostname;
  if (v['crypto-mode']) body.cryptoMode = v['crypto-mode'];
  if (v.model) body.model = v.model;
  if (v.firmware) body.firmware = v.firmware;
  const row = (await callPlane(state, 'POST', '/v1/boxes', body)) as LabBoxStatus;
  console.log(v.json ? JSON.stringify(row) : statusTable([row]));
}

async function boxVerb(verb: string, argv: string[]): Promise<void> {
  const { values: v, positionals } = parse(argv, { json: { type: 'boolean' } }, 1);
  if (v.help) return void console.log(LAB_HELP);
  const id = positionals[0];
  if (!id || !/^\d{1,2}$/.test(id))
    throw new LabUsageError(`lab ${verb} needs a box-id, e.g. "gvos-sim lab ${verb} 3"`);
  const { state } = await target(v);
  if (verb === 'remove') {
    await callPlane(state, 'DELETE', `/v1/boxes/${id}`);
    console.log(`box ${id} removed`);
    return;
  }
  const row = (await callPlane(state, 'POST', `/v1/boxes/${id}/${verb}`)) as LabBoxStatus;
  console.log(v.json ? JSON.stringify(row) : `box ${id}: ${row.state}`);
}

async function fault(argv: string[]): Promise<void> {
  const { values: v, positionals } = parse(
    argv,
    { box: { type: 'string' }, 'delay-ms': { type: 'string' }, json: { type: 'boolean' } },
    2,
  );
  if (v.help) return void console.log(LAB_HELP);
  const [name, onOff] = positionals;
  if (!name || !(FAULT_NAMES as readonly string[]).includes(name))
    throw new LabUsageError(`lab fault needs one of ${FAULT_NAMES.join(', ')}`);
  if (onOff !== 'on' && onOff !== 'off') throw new LabUsageError(`lab fault ${name} needs on or off`);
  const body: Record<string, unknown> = { fault: name, on: onOff === 'on' };
  const boxes = parseBoxList(v.box as string | undefined);
  if (boxes) body.boxes = boxes;
  if (v['delay-ms'] !== undefined) {
    if (!/^\d{1,7}$/.test(v['delay-ms'] as string))
      throw new LabUsageError(`--delay-ms must be a number of milliseconds, got "${v['delay-ms']}"`);
    body.delayMs = Number(v['delay-ms']);
  }
  const { state } = await target(v);
  const rows = (await callPlane(state, 'POST', '/v1/faults', body)) as {
    boxId: number;
    fault: string;
    on: boolean;
    count: number;
  }[];
  printFaults(
    rows.filter((r) => r.fault === name),
    v.json === true,
  );
}

function printFaults(
  rows: { boxId: number; fault: string; on: boolean; count: number; delayMs?: number }[],
  json: boolean,
): void {
  if (json) return void console.log(JSON.stringify(rows));
  console.log(
    table(
      ['box-id', 'fault', 'on', 'count'],
      rows.map((r) => [
        String(r.boxId),
        r.fault + (r.delayMs ? ` (${r.delayMs} ms)` : ''),
        r.on ? 'on' : 'off',
        String(r.count),
      ]),
    ),
  );
}

async function faults(argv: string[]): Promise<void> {
  const { values: v } = parse(argv, { json: { type: 'boolean' } });
  if (v.help) return void console.log(LAB_HELP);
  const { state } = await target(v);
  printFaults((await callPlane(state, 'GET', '/v1/faults')) as never, v.json === true);
}

async function time(argv: string[]): Promise<void> {
  const { values: v, positionals } = parse(
    argv,
    { box: { type: 'string' }, keep: { type: 'boolean' }, json: { type: 'boolean' } },
    2,
  );
  if (v.help) return void console.log(LAB_HELP);
  if (positionals[0] !== 'advance' || !positionals[1])
    throw new LabUsageError('use "gvos-sim lab time advance <duration>", e.g. 20h');
  const ms = parseDuration(positionals[1]);
  const body: Record<string, unknown> = { ms, keep: v.keep === true };
  const boxes = parseBoxList(v.box as string | undefined);
  if (boxes) body.boxes = boxes;
  const { state } = await target(v);
  const rows = (await callPlane(state, 'POST', '/v1/time/advance', body)) as {
    boxId: number;
    offsetMs: number;
  }[];
  if (v.json) return void console.log(JSON.stringify(rows));
  console.log(
    table(
      ['box-id', 'ahead of real time'],
      rows.map((r) => [String(r.boxId), `${(r.offsetMs / 3_600_000).toFixed(2)} h`]),
    ),
  );
  if (!v.keep)
    console.log(
      'what fell due has started (e.g. an auto-renewal: see "gvos-sim lab status"); the boxes are back on real time (--keep to stay ahead)',
    );
}

async function acme(argv: string[]): Promise<void> {
  const { values: v, positionals } = parse(argv, { box: { type: 'string' }, json: { type: 'boolean' } }, 1);
  if (v.help) return void console.log(LAB_HELP);
  const op = positionals[0];
  if (!op || !(FLEET_OPS as readonly string[]).includes(op))
    throw new LabUsageError(`lab acme needs one of ${FLEET_OPS.join(', ')}`);
  const body: Record<string, unknown> = {};
  const boxes = parseBoxList(v.box as string | undefined);
  if (boxes) body.boxes = boxes;
  const { state } = await target(v);
  const t0 = Date.now();
  const last = (await callPlane(state, 'POST', `/v1/acme/${op}`, body, (line) => {
    const l = line as { event: string } & FleetResult;
    if (l.event === 'result' && !v.json)
      console.log(
        `[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] box ${l.boxId} ${l.hostname}: ${l.result}`,
      );
  })) as { event: string; results: FleetResult[] } | undefined;
  const results = last?.results ?? [];
  if (v.json) return void console.log(JSON.stringify(results));
  console.log('');
  console.log(
    table(
      ['box-id', 'hostname', 'operation', 'result', 'serial', 'expires', 'time'],
      results.map((r) => [
        String(r.boxId),
        r.hostname,
        r.op,
        r.result.slice(0, 80),
        r.serial ?? '-',
        r.expires ?? '-',
        `${(r.durationMs / 1000).toFixed(1)} s`,
      ]),
    ),
  );
  const failed = results.filter((r) => !r.ok).length;
  console.log(`\n${results.length - failed} of ${results.length} boxes: ${op} succeeded`);
  if (failed) process.exitCode = 1;
}

async function inventory(argv: string[]): Promise<void> {
  const { values: v } = parse(argv, { format: { type: 'string' }, output: { type: 'string' } });
  if (v.help) return void console.log(LAB_HELP);
  const format = (v.format as string | undefined) ?? 'json';
  if (format !== 'json' && format !== 'csv')
    throw new LabUsageError(`--format must be json or csv, got "${format}"`);
  const { state } = await target(v);
  const res = await callPlane(state, 'GET', `/v1/inventory${format === 'csv' ? '?format=csv' : ''}`);
  const text = format === 'csv' ? (res as string) : JSON.stringify(res, null, 2) + '\n';
  if (v.output) {
    await writeFile(v.output as string, text);
    console.log(`inventory written to ${v.output}`);
  } else process.stdout.write(text);
}

async function traps(argv: string[]): Promise<void> {
  const { values: v } = parse(argv, { json: { type: 'boolean' } });
  if (v.help) return void console.log(LAB_HELP);
  const { state } = await target(v);
  if (!state.trapLog) throw new Error('this lab sends its traps to an external receiver; look there');
  const rows = readFileSync(state.trapLog, 'utf8')
    .split('\n')
    .map(parseTrapdLine)
    .filter((n) => n !== undefined);
  if (v.json)
    return void console.log(
      JSON.stringify(
        rows.map((n) => ({ name: n.name, transport: n.transport, version: n.version, varbinds: n.varbinds })),
      ),
    );
  console.log(
    table(
      ['notification', 'from', 'hostname', 'serial', 'description'],
      rows.map((n) => [
        n.name,
        n.transport.replace(/^UDP: /, '').replace(/->.*/, ''),
        varbindValue(n, 'gvosSimHostname') ?? '-',
        varbindValue(n, 'gvosSimCertSerial') ?? '-',
        (varbindValue(n, 'gigamonSnmpNotifDescription') ?? '').slice(0, 80),
      ]),
    ),
  );
  console.log(`\n${rows.length} notifications in ${state.trapLog}`);
}
