/**
 * `gvos-sim lab ...` command lines -> a typed request. Pure: no file, no
 * network, no process; every bad input throws LabUsageError with one line
 * naming the option and what it expects (exit code 2 at the edge).
 */
import { parseArgs } from 'node:util';
import { BOX_ID_MAX, BOX_ID_MIN, MAX_LAB_BOXES } from '../device/limits.js';
import { parseLogLevel, type LogLevel } from '../lib/logger.js';
import { FAULT_NAMES, type FaultName } from './faults.js';
import { FLEET_OPS, type FleetOp } from './fleet-ops.js';
import { DEFAULT_LABS_DIR } from './lab-state.js';

/** A usage error of `gvos-sim lab`: one line, exit code 2. */
export class LabUsageError extends Error {}

/** The text of `gvos-sim lab --help`. */
export const LAB_HELP = `Usage: gvos-sim lab <verb> [options]

Bring up a lab of simulated GigaVUE-OS boxes with its CA and trap receiver,
and drive it while it runs.

  lab up [topology.yaml] [--boxes N] [--name <lab>] [--keep-state]
                          start the lab in the foreground (Ctrl-C or "lab down" stops it)
  lab status [--box <ids>] [--summary] [--json]
                          boxes, addresses, ports, certificate status and expiry, then how
                          many boxes and certificates are in each state (--summary: that line only)
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
  lab events [--follow] [--since <seq|time|duration>] [--json]
                          the lab's event feed (box lifecycle, ACME, faults, clocks, traps);
                          --since 42 (after event 42), 2026-12-05T06:00:00Z, or 10m (ago)
  lab traps [--follow] [--tail N] [--since <time|duration>] [--json]
                          the notifications in the lab's trap log, with the time received
  lab hosts               an /etc/hosts snippet: every box's name and address

Common options:
  --name <lab>            which lab (default: the only running one; "lab" for up)
  --labs-dir <dir>        where labs keep their state     [${DEFAULT_LABS_DIR}]
                          (without it, running labs are also found from any directory)
  --box <ids>             box-ids ${BOX_ID_MIN}-${BOX_ID_MAX}, e.g. 1,3,5 or 2-4 (default: all)
  -h, --help              this help`;

/** The verbs that act on one box. */
type BoxAction = 'remove' | 'stop' | 'start' | 'kill' | 'reload';

/** What every verb shares: which lab, and where labs keep their state. */
interface Common {
  /** --name, when given. */
  name?: string;
  /** --labs-dir, else $GVOS_SIM_LABS_DIR, else DEFAULT_LABS_DIR (not resolved: the caller does). */
  labsDir: string;
  /** --labs-dir or $GVOS_SIM_LABS_DIR was given: only that directory, not the per-user registry. */
  labsDirGiven: boolean;
}

/** Where `--since` starts: after a sequence number, or at a time (ms since the epoch). */
type Since = { seq: number } | { timeMs: number };

/** The fields of `lab add` as the control plane takes them. */
interface AddBody {
  boxId?: number;
  hostname?: string;
  cryptoMode?: string;
  model?: string;
  firmware?: string;
}

/** One `gvos-sim lab` command line, parsed and checked. */
export type LabRequest =
  | { verb: 'help' }
  | (Common & {
      verb: 'up';
      file?: string;
      boxes?: number;
      keepState: boolean;
      logLevel: LogLevel;
    })
  | (Common & { verb: 'status'; json: boolean; summary: boolean; boxes?: number[] })
  | (Common & { verb: 'down' })
  | (Common & { verb: 'add'; body: AddBody; json: boolean })
  | (Common & { verb: 'box'; action: BoxAction; boxId: number; json: boolean })
  | (Common & {
      verb: 'fault';
      fault: FaultName;
      on: boolean;
      boxes?: number[];
      delayMs?: number;
      json: boolean;
    })
  | (Common & { verb: 'faults'; json: boolean })
  | (Common & { verb: 'time'; ms: number; keep: boolean; boxes?: number[]; json: boolean })
  | (Common & { verb: 'acme'; op: FleetOp; boxes?: number[]; json: boolean })
  | (Common & { verb: 'inventory'; format: 'json' | 'csv'; output?: string })
  | (Common & { verb: 'events'; follow: boolean; since?: Since; json: boolean })
  | (Common & {
      verb: 'traps';
      follow: boolean;
      tail?: number;
      sinceMs?: number;
      json: boolean;
    })
  | (Common & { verb: 'hosts' });

const COMMON = {
  name: { type: 'string' },
  'labs-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

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

/**
 * A box-id as typed: a whole number BOX_ID_MIN..BOX_ID_MAX. `what` names it in the
 * error ("--box-id", "lab stop").
 */
function parseBoxId(s: string, what: string): number {
  const n = /^\d{1,6}$/.test(s) ? Number(s) : NaN;
  if (!(n >= BOX_ID_MIN && n <= BOX_ID_MAX))
    throw new LabUsageError(`${what} must be a box-id from ${BOX_ID_MIN} to ${BOX_ID_MAX}, got "${s}"`);
  return n;
}

/** The longest box selector a request may carry (`boxes`, fm-api's `boxIds`): ranges keep even 1-65535 short. */
export const MAX_BOX_SELECTOR = 1024;

/** "1,3,5", "2-4", "all" -> box-ids in order (undefined = all); each id BOX_ID_MIN..BOX_ID_MAX. */
export function parseBoxList(s: string | undefined): number[] | undefined {
  if (s === undefined || s === 'all') return undefined;
  const out = new Set<number>();
  for (const part of s.split(',')) {
    const m = /^(\d{1,6})(?:-(\d{1,6}))?$/.exec(part.trim());
    if (!m) throw new LabUsageError(`--box takes box-ids like 1,3,5 or 2-4 or all, got "${s}"`);
    const a = parseBoxId(m[1]!, '--box');
    const b = m[2] ? parseBoxId(m[2], '--box') : a;
    for (let i = Math.min(a, b); i <= Math.max(a, b); i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/**
 * Box-ids -> the selector parseBoxList reads back, runs as ranges ("1-65535",
 * "1,3-5"): a control-plane request naming many boxes stays far under the
 * plane's body limit (an expanded 1-65535 list was about 380 KiB: 413).
 */
export function formatBoxList(ids: readonly number[]): string {
  const sorted = [...new Set(ids)].sort((x, y) => x - y);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * "30d", "20h", "90m", "45s" or "1500ms" -> ms. The unit is required: a bare
 * "61" (meant as days, taken as 61 ms) was accepted as almost nothing.
 */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(s.trim());
  if (!m)
    throw new LabUsageError(
      /^\d+(?:\.\d+)?$/.test(s.trim())
        ? `duration "${s}" needs a unit: ${s}d, ${s}h, ${s}m, ${s}s or ${s}ms`
        : `duration must look like 30d, 20h, 90m, 45s or 1500ms, got "${s}"`,
    );
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms'];
  return Math.round(n * unit);
}

const VERBS =
  'up, status, down, add, remove, stop, start, kill, reload, fault, faults, time, acme, inventory, events, traps, hosts';

/**
 * `--since`: a sequence number (digits, when `seqAllowed`), a duration ago
 * (10m, 2h), or a date and time Date.parse reads (2026-12-05T06:00:00Z).
 */
function parseSince(s: string, nowMs: number, seqAllowed: boolean): Since {
  const v = s.trim();
  if (/^\d{1,15}$/.test(v)) {
    if (seqAllowed) return { seq: Number(v) };
    throw new LabUsageError(
      `--since takes a time (2026-12-05T06:00:00Z) or a duration ago (10m), got "${s}"`,
    );
  }
  if (/^\d+(?:\.\d+)?(?:ms|s|m|h|d)$/.test(v)) return { timeMs: nowMs - parseDuration(v) };
  const t = /\d{4}-\d\d-\d\d/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t))
    throw new LabUsageError(
      `--since takes ${seqAllowed ? 'an event number (42), ' : ''}a time (2026-12-05T06:00:00Z) or a duration ago (10m), got "${s.slice(0, 40)}"`,
    );
  return { timeMs: t };
}

/**
 * Parse `gvos-sim lab <argv>`. `env` gives GVOS_SIM_LABS_DIR. Returns
 * `{verb: 'help'}` for help anywhere; throws LabUsageError otherwise.
 */
export function parseLabArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
  nowMs: number = Date.now(),
): LabRequest {
  const [verb, ...rest] = argv;
  const common = (v: Opts): Common => ({
    ...(v.name !== undefined ? { name: v.name as string } : {}),
    labsDir: (v['labs-dir'] as string | undefined) ?? env.GVOS_SIM_LABS_DIR ?? DEFAULT_LABS_DIR,
    labsDirGiven: v['labs-dir'] !== undefined || env.GVOS_SIM_LABS_DIR !== undefined,
  });
  const flag = (v: Opts, k: string) => v[k] === true;
  switch (verb) {
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      return { verb: 'help' };
    case 'up': {
      const { values: v, positionals } = parse(
        rest,
        { boxes: { type: 'string' }, 'keep-state': { type: 'boolean' }, 'log-level': { type: 'string' } },
        1,
      );
      if (v.help) return { verb: 'help' };
      let boxes: number | undefined;
      if (v.boxes !== undefined) {
        const n = /^\d{1,6}$/.test(v.boxes as string) ? Number(v.boxes) : NaN;
        if (!(n >= 1 && n <= MAX_LAB_BOXES))
          throw new LabUsageError(`--boxes must be a number from 1 to ${MAX_LAB_BOXES}, got "${v.boxes}"`);
        boxes = n;
      }
      const name = v.name as string | undefined;
      if (name !== undefined && !/^[a-z0-9][a-z0-9-]{0,31}$/.test(name))
        throw new LabUsageError(`--name must be 1-32 lower-case letters, digits or hyphens, got "${name}"`);
      let logLevel: LogLevel;
      try {
        logLevel = parseLogLevel((v['log-level'] as string | undefined) ?? 'info');
      } catch (err) {
        throw new LabUsageError(`--log-level: ${(err as Error).message}`);
      }
      return {
        verb: 'up',
        ...common(v),
        ...(positionals[0] ? { file: positionals[0] } : {}),
        ...(boxes !== undefined ? { boxes } : {}),
        keepState: flag(v, 'keep-state'),
        logLevel,
      };
    }
    case 'status':
    case 'boxes': {
      const { values: v } = parse(rest, {
        json: { type: 'boolean' },
        summary: { type: 'boolean' },
        box: { type: 'string' },
      });
      if (v.help) return { verb: 'help' };
      if (flag(v, 'json') && flag(v, 'summary'))
        throw new LabUsageError('--summary is a line for people; --json gives every row (choose one)');
      const boxes = parseBoxList(v.box as string | undefined);
      return {
        verb: 'status',
        ...common(v),
        json: flag(v, 'json'),
        summary: flag(v, 'summary'),
        ...(boxes ? { boxes } : {}),
      };
    }
    case 'down': {
      const { values: v } = parse(rest, {});
      if (v.help) return { verb: 'help' };
      return { verb: 'down', ...common(v) };
    }
    case 'add': {
      const { values: v } = parse(rest, {
        'box-id': { type: 'string' },
        hostname: { type: 'string' },
        'crypto-mode': { type: 'string' },
        model: { type: 'string' },
        firmware: { type: 'string' },
        json: { type: 'boolean' },
      });
      if (v.help) return { verb: 'help' };
      const body: AddBody = {};
      if (v['box-id'] !== undefined) body.boxId = parseBoxId(v['box-id'] as string, '--box-id');
      if (v.hostname) body.hostname = v.hostname as string;
      if (v['crypto-mode']) body.cryptoMode = v['crypto-mode'] as string;
      if (v.model) body.model = v.model as string;
      if (v.firmware) body.firmware = v.firmware as string;
      return { verb: 'add', ...common(v), body, json: flag(v, 'json') };
    }
    case 'remove':
    case 'stop':
    case 'start':
    case 'kill':
    case 'reload': {
      const { values: v, positionals } = parse(rest, { json: { type: 'boolean' } }, 1);
      if (v.help) return { verb: 'help' };
      const id = positionals[0];
      if (!id) throw new LabUsageError(`lab ${verb} needs a box-id, e.g. "gvos-sim lab ${verb} 3"`);
      return {
        verb: 'box',
        ...common(v),
        action: verb,
        boxId: parseBoxId(id, `lab ${verb}`),
        json: flag(v, 'json'),
      };
    }
    case 'fault': {
      const { values: v, positionals } = parse(
        rest,
        { box: { type: 'string' }, 'delay-ms': { type: 'string' }, json: { type: 'boolean' } },
        2,
      );
      if (v.help) return { verb: 'help' };
      const [name, onOff] = positionals;
      if (!name || !(FAULT_NAMES as readonly string[]).includes(name))
        throw new LabUsageError(`lab fault needs one of ${FAULT_NAMES.join(', ')}`);
      if (onOff !== 'on' && onOff !== 'off') throw new LabUsageError(`lab fault ${name} needs on or off`);
      const boxes = parseBoxList(v.box as string | undefined);
      let delayMs: number | undefined;
      if (v['delay-ms'] !== undefined) {
        if (!/^\d{1,7}$/.test(v['delay-ms'] as string))
          throw new LabUsageError(`--delay-ms must be a number of milliseconds, got "${v['delay-ms']}"`);
        delayMs = Number(v['delay-ms']);
      }
      return {
        verb: 'fault',
        ...common(v),
        fault: name as FaultName,
        on: onOff === 'on',
        ...(boxes ? { boxes } : {}),
        ...(delayMs !== undefined ? { delayMs } : {}),
        json: flag(v, 'json'),
      };
    }
    case 'faults': {
      const { values: v } = parse(rest, { json: { type: 'boolean' } });
      if (v.help) return { verb: 'help' };
      return { verb: 'faults', ...common(v), json: flag(v, 'json') };
    }
    case 'time': {
      const { values: v, positionals } = parse(
        rest,
        { box: { type: 'string' }, keep: { type: 'boolean' }, json: { type: 'boolean' } },
        2,
      );
      if (v.help) return { verb: 'help' };
      if (positionals[0] !== 'advance' || !positionals[1])
        throw new LabUsageError('use "gvos-sim lab time advance <duration>", e.g. 20h');
      const ms = parseDuration(positionals[1]);
      const boxes = parseBoxList(v.box as string | undefined);
      return {
        verb: 'time',
        ...common(v),
        ms,
        keep: flag(v, 'keep'),
        ...(boxes ? { boxes } : {}),
        json: flag(v, 'json'),
      };
    }
    case 'acme': {
      const { values: v, positionals } = parse(
        rest,
        { box: { type: 'string' }, json: { type: 'boolean' } },
        1,
      );
      if (v.help) return { verb: 'help' };
      const op = positionals[0];
      if (!op || !(FLEET_OPS as readonly string[]).includes(op))
        throw new LabUsageError(`lab acme needs one of ${FLEET_OPS.join(', ')}`);
      const boxes = parseBoxList(v.box as string | undefined);
      return {
        verb: 'acme',
        ...common(v),
        op: op as FleetOp,
        ...(boxes ? { boxes } : {}),
        json: flag(v, 'json'),
      };
    }
    case 'inventory': {
      const { values: v } = parse(rest, { format: { type: 'string' }, output: { type: 'string' } });
      if (v.help) return { verb: 'help' };
      const format = (v.format as string | undefined) ?? 'json';
      if (format !== 'json' && format !== 'csv')
        throw new LabUsageError(`--format must be json or csv, got "${format}"`);
      return {
        verb: 'inventory',
        ...common(v),
        format,
        ...(v.output !== undefined ? { output: v.output as string } : {}),
      };
    }
    case 'events': {
      const { values: v } = parse(rest, {
        follow: { type: 'boolean', short: 'f' },
        since: { type: 'string' },
        json: { type: 'boolean' },
      });
      if (v.help) return { verb: 'help' };
      const since = v.since === undefined ? undefined : parseSince(v.since as string, nowMs, true);
      return {
        verb: 'events',
        ...common(v),
        follow: flag(v, 'follow'),
        ...(since ? { since } : {}),
        json: flag(v, 'json'),
      };
    }
    case 'traps': {
      const { values: v } = parse(rest, {
        follow: { type: 'boolean', short: 'f' },
        tail: { type: 'string' },
        since: { type: 'string' },
        json: { type: 'boolean' },
      });
      if (v.help) return { verb: 'help' };
      let tail: number | undefined;
      if (v.tail !== undefined) {
        if (!/^\d{1,7}$/.test(v.tail as string))
          throw new LabUsageError(`--tail takes a number of notifications, got "${v.tail}"`);
        tail = Number(v.tail);
      }
      const since = v.since === undefined ? undefined : parseSince(v.since as string, nowMs, false);
      return {
        verb: 'traps',
        ...common(v),
        follow: flag(v, 'follow'),
        ...(tail !== undefined ? { tail } : {}),
        ...(since && 'timeMs' in since ? { sinceMs: since.timeMs } : {}),
        json: flag(v, 'json'),
      };
    }
    case 'hosts': {
      const { values: v } = parse(rest, {});
      if (v.help) return { verb: 'help' };
      return { verb: 'hosts', ...common(v) };
    }
    default:
      throw new LabUsageError(`unknown lab verb "${verb}" (use ${VERBS})`);
  }
}
