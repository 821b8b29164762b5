/**
 * `gvos-sim lab ...`: bring a lab up in the foreground (lab-up.ts), and
 * drive a running lab from another shell through its control plane
 * (plane-client.ts; the state file gives the URL and token, so no topology is
 * needed after `lab up`). Parsing is lab-args.ts, the tables lab-tables.ts;
 * this file only wires a parsed request to its action.
 *
 * Exit codes: 0 done; 1 the operation failed (one line on stderr); 2 bad
 * usage (one line naming the option and what is expected).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import type { ReceivedNotification } from '../snmp/trapd-launcher.js';
import type { AdvancedClock } from './box-clock.js';
import type { FaultState } from './faults.js';
import type { FleetResult, LabBoxStatus, LabStateFile } from './lab.js';
import { formatBoxList, LAB_HELP, LabUsageError, parseLabArgs, type LabRequest } from './lab-args.js';
import { formatEventLine, type LabEvent } from './lab-events.js';
import { pidAlive, readStateFile, waitPidGone } from './lab-state.js';
import { invokedAs } from './invocation.js';
import { callPlane, copyFromPlane, followEvents, locateLab, runningLab } from './plane-client.js';
import { clockTable, faultsTable, fleetTable, statusTable } from './lab-tables.js';
import { TopologyError } from './topology-error.js';

/**
 * Run `gvos-sim lab <argv>`. Resolves when the verb is done (for `up`: the
 * process exits once the lab went down); usage errors print one line and
 * exit 2; other failures reject with a one-line Error (the caller prints it
 * and exits 1).
 */
export async function runLab(argv: string[]): Promise<void> {
  try {
    const req = parseLabArgs(argv, process.env);
    if (req.verb === 'up') {
      // Loaded for `up` only: the other verbs (a control-plane client) start without the lab and box stack.
      const { labUp } = await import('./lab-up.js');
      await labUp(req);
      // Whatever a peer or library left scheduled, the lab is down: leave now.
      process.exit(0);
    }
    await execute(req);
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

async function execute(req: Exclude<LabRequest, { verb: 'up' }>): Promise<void> {
  // Output piped into a reader that stops early (`lab status | head`): done, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  if (req.verb === 'help') return void console.log(LAB_HELP);
  const cmd = invokedAs();
  if (req.verb === 'down') return down(req, cmd);
  const state = await runningLab(await locateLab(req, process.env, `; start one with "${cmd} lab up"`));
  switch (req.verb) {
    case 'status': {
      // The plane renders the table (and the summary) and the CLI copies it: a 10,000-box answer is
      // not parsed and laid out again in a process that has just started.
      const query = new URLSearchParams();
      if (!req.json) query.set('format', req.summary ? 'summary' : 'table');
      if (req.boxes) query.set('boxes', formatBoxList(req.boxes));
      const q = query.toString();
      await copyFromPlane(state, `/v1/boxes${q ? `?${q}` : ''}`, process.stdout);
      if (req.json) process.stdout.write('\n');
      else if (state.trapLog && !req.summary) console.log(`\ntrap log: ${state.trapLog}`);
      return;
    }
    case 'events': {
      let since = 0;
      let fromMs: number | undefined;
      if (req.since && 'seq' in req.since) since = req.since.seq;
      else if (req.since) fromMs = req.since.timeMs;
      const show = (e: LabEvent) => {
        if (fromMs !== undefined && Date.parse(e.time) < fromMs) return;
        console.log(req.json ? JSON.stringify(e) : formatEventLine(e));
      };
      if (!req.follow) {
        for (const e of (await callPlane(state, 'GET', `/v1/events?since=${since}`)) as LabEvent[]) show(e);
        return;
      }
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      await followEvents(state, since, show, stop.signal);
      return;
    }
    case 'hosts': {
      const info = (await callPlane(state, 'GET', '/v1/info')) as { name: string; domain: string };
      const rows = (await callPlane(state, 'GET', '/v1/boxes')) as LabBoxStatus[];
      const again = `${cmd} lab hosts${req.name ? ` --name ${req.name}` : ''}`;
      console.log(hostsSnippet(info.name, info.domain, rows, again));
      return;
    }
    case 'add': {
      const row = (await callPlane(state, 'POST', '/v1/boxes', req.body)) as LabBoxStatus;
      return void console.log(req.json ? JSON.stringify(row) : statusTable([row]));
    }
    case 'box': {
      if (req.action === 'remove') {
        await callPlane(state, 'DELETE', `/v1/boxes/${req.boxId}`);
        return void console.log(`box ${req.boxId} removed`);
      }
      const row = (await callPlane(state, 'POST', `/v1/boxes/${req.boxId}/${req.action}`)) as LabBoxStatus;
      return void console.log(req.json ? JSON.stringify(row) : `box ${req.boxId}: ${row.state}`);
    }
    case 'fault': {
      const rows = (await callPlane(state, 'POST', '/v1/faults', {
        fault: req.fault,
        on: req.on,
        ...(req.boxes ? { boxes: formatBoxList(req.boxes) } : {}),
        ...(req.delayMs !== undefined ? { delayMs: req.delayMs } : {}),
      })) as FaultState[];
      const mine = rows.filter((r) => r.fault === req.fault);
      return void console.log(req.json ? JSON.stringify(mine) : faultsTable(mine));
    }
    case 'faults': {
      const rows = (await callPlane(state, 'GET', '/v1/faults')) as FaultState[];
      return void console.log(req.json ? JSON.stringify(rows) : faultsTable(rows));
    }
    case 'time': {
      const rows = (await callPlane(state, 'POST', '/v1/time/advance', {
        ms: req.ms,
        keep: req.keep,
        ...(req.boxes ? { boxes: formatBoxList(req.boxes) } : {}),
      })) as AdvancedClock[];
      if (req.json) return void console.log(JSON.stringify(rows));
      console.log(clockTable(rows));
      for (const r of rows) if (r.warning) console.log(`warning: ${r.warning}`);
      if (!req.keep)
        console.log(
          'what fell due has started (e.g. an auto-renewal: see "gvos-sim lab status"); the boxes are back on real time (--keep to stay ahead)',
        );
      return;
    }
    case 'acme': {
      const t0 = Date.now();
      const last = (await callPlane(
        state,
        'POST',
        `/v1/acme/${req.op}`,
        req.boxes ? { boxes: formatBoxList(req.boxes) } : {},
        (line) => {
          const l = line as { event: string } & FleetResult;
          if (l.event === 'result' && !req.json)
            console.log(
              `[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] box ${l.boxId} ${l.hostname}: ${l.result}`,
            );
        },
      )) as { event: string; results: FleetResult[] } | undefined;
      const results = last?.results ?? [];
      if (req.json) return void console.log(JSON.stringify(results));
      console.log('');
      console.log(fleetTable(results));
      const failed = results.filter((r) => !r.ok).length;
      console.log(`\n${results.length - failed} of ${results.length} boxes: ${req.op} succeeded`);
      if (failed) process.exitCode = 1;
      return;
    }
    case 'inventory': {
      // CSV, or the JSON indented by the plane: copied as it comes, to the terminal or the file.
      const path = `/v1/inventory?${req.format === 'csv' ? 'format=csv' : 'pretty=true'}`;
      if (!req.output) return copyFromPlane(state, path, process.stdout);
      // The file is opened once the plane has accepted: a refusal leaves an existing file as it was.
      let file: WriteStream | undefined;
      try {
        await copyFromPlane(state, path, () => (file = createWriteStream(req.output!)));
      } finally {
        file?.end();
      }
      if (file) await finished(file);
      return void console.log(`inventory written to ${req.output}`);
    }
    case 'traps':
      return traps(req, state);
  }
}

/**
 * An /etc/hosts snippet: each box's name (<hostname>.<domain>) at the address
 * its HTTPS, SSH and CLI listen on (the shared address in ports mode).
 */
export function hostsSnippet(
  lab: string,
  domain: string,
  rows: readonly LabBoxStatus[],
  command = 'gvos-sim lab hosts',
): string {
  const lines = [`# gvos-sim lab ${lab}; add to /etc/hosts with: ${command} | sudo tee -a /etc/hosts`];
  const width = Math.max(0, ...rows.map((r) => r.address.length));
  for (const r of rows) lines.push(`${r.address.padEnd(width)}  ${`${r.hostname}.${domain}`.toLowerCase()}`);
  return lines.join('\n');
}

/** `lab traps`: the trap log with the time each arrived, filtered (--since, --tail), then --follow. */
async function traps(req: Extract<LabRequest, { verb: 'traps' }>, state: LabStateFile): Promise<void> {
  const file = state.trapLog;
  if (!file) throw new Error('this lab sends its traps to an external receiver; look there');
  // Loaded here: the trap log's parser and the MIB's names are for this verb only.
  const [{ parseTrapdLine }, { trapsFollowLayout, trapsTable }, { TrapLogTail }] = await Promise.all([
    import('../snmp/trapd-launcher.js'),
    import('./trap-tables.js'),
    import('./trap-tail.js'),
  ]);
  const data = await readFile(file);
  // Up to the last complete line: a line being written is read by the follower.
  const complete = data.lastIndexOf(0x0a) + 1;
  let rows = data
    .subarray(0, complete)
    .toString('utf8')
    .split('\n')
    .map(parseTrapdLine)
    .filter((n) => n !== undefined);
  if (req.sinceMs !== undefined) rows = rows.filter((n) => (n.receivedMs ?? 0) >= req.sinceMs! - 999);
  if (req.tail !== undefined) rows = req.tail === 0 ? [] : rows.slice(-req.tail);
  const json = (n: ReceivedNotification) =>
    JSON.stringify({
      time: n.receivedMs === undefined ? null : new Date(n.receivedMs).toISOString(),
      name: n.name,
      transport: n.transport,
      version: n.version,
      varbinds: n.varbinds,
    });
  if (!req.follow) {
    if (req.json) return void console.log(`[${rows.map(json).join(',')}]`);
    console.log(trapsTable(rows));
    console.log(`\n${rows.length} notifications in ${file}`);
    return;
  }
  // Following: one line per notification (a table cannot grow), header first, the columns fixed from it on.
  const layout = trapsFollowLayout(rows);
  const line = (n: ReceivedNotification) => (req.json ? json(n) : layout.line(n));
  if (!req.json) for (const h of layout.header) console.log(h);
  for (const n of rows) console.log(line(n));
  const tail = new TrapLogTail(file, (n) => console.log(line(n)));
  await tail.start(complete);
  // Until Ctrl-C or the lab goes down (its process ends).
  await new Promise<void>((done) => {
    const check = setInterval(() => {
      if (!pidAlive(state.pid)) finish();
    }, 500);
    const finish = () => {
      clearInterval(check);
      process.off('SIGINT', finish);
      done();
    };
    process.once('SIGINT', finish);
  });
  await tail.stop();
}

/** `lab down`: ask the lab process to stop; end it by PID when it does not answer; then its left-over peers. */
async function down(req: Extract<LabRequest, { verb: 'down' }>, cmd: string): Promise<void> {
  const { dir, name } = await locateLab(req, process.env, `; start one with "${cmd} lab up"`);
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
  const { cleanupDeadLab } = await import('./lab-up.js');
  const ended = await cleanupDeadLab(dir, state);
  console.log(`lab ${name} is down${ended ? ` (${ended} left-over processes ended)` : ''}`);
}
