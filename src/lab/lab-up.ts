/**
 * `gvos-sim lab up`: the foreground supervisor of a lab. Reads the topology,
 * keeps the lab's state file (PIDs, control plane URL and token) current
 * from the first moment, brings the lab up with progress, serves the
 * control plane, prints the table and the hints, and stops everything on
 * Ctrl-C, SIGTERM or `lab down` (through the control plane). It waits on
 * those events; nothing polls.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { planListeners } from './open-files.js';
import { join, resolve } from 'node:path';
import { FileFirmwareCatalog } from '../firmware/catalog.js';
import { openLabLog } from './lab-log.js';
import { ControlPlane } from './control-plane.js';
import { planeCredentials, planeName, type PlaneCredentials } from './dashboard/plane-tls.js';
import { Lab, type LabStateFile } from './lab.js';
import { LabUsageError, type LabRequest } from './lab-args.js';
import { endPeer, pidAlive, readStateFile, removeStateFile, writeStateFile } from './lab-state.js';
import { statusTable } from './lab-tables.js';
import { formatEventLine } from './lab-events.js';
import { invokedAs } from './invocation.js';
import { registerLab, unregisterLab } from './lab-registry.js';
import { LineProgress, LiveTableProgress } from './progress.js';
import { defaultTopology, parseTopology, type TopologyContext } from './topology.js';

/** A lab whose process died (kill -9, power): end its recorded peers by PID and forget it. Resolves how many were ended. */
export async function cleanupDeadLab(dir: string, s: LabStateFile): Promise<number> {
  let ended = 0;
  for (const p of s.processes) if (await endPeer(p)) ended++;
  await removeStateFile(dir, s.name);
  await unregisterLab(s.name, dir);
  return ended;
}

/**
 * Run `lab up` in the foreground. Resolves once the lab is down again (after
 * Ctrl-C, SIGTERM or `lab down`); rejects with one line when it cannot start
 * (nothing it started is left running then).
 */
export async function labUp(o: Extract<LabRequest, { verb: 'up' }>): Promise<void> {
  const t0 = Date.now();
  const dir = resolve(o.labsDir);
  const catalog = new FileFirmwareCatalog();
  const ctx: TopologyContext = {
    firmware: catalog.list().map((i) => ({ version: i.version, models: i.models, acme: i.features.acme })),
    defaultFirmware: catalog.latest().version,
    ...(o.boxes !== undefined ? { boxCount: o.boxes } : {}),
  };
  let topology;
  if (o.file) {
    let text: string;
    try {
      text = await readFile(o.file, 'utf8');
    } catch (err) {
      throw new LabUsageError(
        `cannot read the topology ${o.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    topology = parseTopology(text, o.file, ctx);
  } else {
    topology = defaultTopology(o.boxes ?? 3, ctx);
  }
  if (o.name) topology = { ...topology, lab: o.name };
  const labName = topology.lab;
  const nameOpt = labName === 'lab' ? '' : ' --name ' + labName;
  const cmd = `${invokedAs()} lab`;

  const existing = await readStateFile(dir, labName);
  // In a container the lab is PID 1 on every start: a state file naming our own PID is from an earlier run.
  if (existing && existing.pid !== process.pid && pidAlive(existing.pid)) {
    throw new Error(
      `lab ${labName} is already running (pid ${existing.pid}); stop it with "${cmd} down --name ${labName}"`,
    );
  }
  if (existing) await cleanupDeadLab(dir, existing);

  // The boxes' JSON log lines go to the lab's log file: the terminal shows the progress.
  mkdirSync(join(dir, labName), { recursive: true, mode: 0o700 });
  const logFile = join(dir, labName, 'lab.log');
  const labLog = openLabLog(logFile, o.logLevel, { lab: labName });
  const logger = labLog.logger;
  const progress =
    process.stdout.isTTY === true
      ? new LiveTableProgress((s) => process.stdout.write(s), process.stdout.rows)
      : new LineProgress((s) => process.stdout.write(s));
  console.log(
    `gvos-sim lab ${labName}: ${topology.boxes.length} boxes${o.file ? ` from ${o.file}` : ''} (log: ${logFile})`,
  );
  // Said before anything starts: the open-files limit this lab meets and where its listeners go (or why it cannot run).
  const planned = planListeners(topology.boxes.length);
  console.log(`open files:  ${'plan' in planned ? planned.plan.line : planned.problem}`);

  // The state file exists from the start (no control plane yet), with each peer's PID as soon as it runs:
  // `lab down` can stop a lab that is still starting, and clean up after one that died while starting.
  const state: LabStateFile = {
    name: labName,
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

  // One handler for SIGINT and SIGTERM for the lab's whole life, every time they come: a second Ctrl-C, or
  // `lab down` after a SIGTERM, must not meet Node's default action, which ends the process at once and
  // leaves its peers (Pebble, its DNS, snmptrapd) running. While the boxes start, a signal is remembered
  // and acted on once they are up (a half-started box cannot stop); after that it stops the lab (once).
  let interrupted: string | undefined;
  let stopOnSignal: ((sig: string) => void) | undefined = undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    // The lines waiting for their batch are on disk before anything else happens (lab-log.ts).
    labLog.flush();
    if (stopOnSignal) return stopOnSignal(sig);
    if (interrupted) return; // already remembered and said
    interrupted = sig;
    process.stdout.write(`\nlab ${labName}: ${sig}; stopping once the boxes that are starting are up...\n`);
  };
  const signalsOff = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let lab: Lab;
  try {
    lab = await Lab.up({
      topology,
      labsDir: dir,
      catalog,
      logger,
      progress,
      keepState: o.keepState,
      onProcesses: (processes) => void saveState({ ...state, processes }).catch(() => undefined),
    });
  } catch (err) {
    signalsOff();
    progress.finish();
    await stateWrites.catch(() => undefined);
    await removeStateFile(dir, labName);
    throw err;
  }

  // One stop, whoever asks first (signal or `lab down`); `down` settles when it is done.
  let stopping: Promise<void> | undefined;
  let plane: ControlPlane | undefined;
  // The event feed's unsubscribe, set once the lab is up (a stop before that has none).
  const feed = { off: (): void => undefined };
  const stop = (why: string): Promise<void> =>
    (stopping ??= (async () => {
      feed.off();
      process.stdout.write(`\nlab ${labName}: stopping (${why})...\n`);
      await plane?.close();
      await lab.down();
      await stateWrites.catch(() => undefined);
      await removeStateFile(dir, labName);
      await unregisterLab(labName, dir).catch(() => undefined);
      process.stdout.write(`lab ${labName}: down\n`);
    })());
  let settleDown!: () => void;
  const down = new Promise<void>((r) => (settleDown = r));
  const stopAndSettle = (why: string) => void stop(why).then(settleDown, settleDown);

  let creds: PlaneCredentials | undefined;
  let dashboardUrl = '';
  try {
    const token = randomBytes(24).toString('base64url');
    plane = new ControlPlane(lab, token, () => stopAndSettle('lab down'));
    const url = await plane.listen();
    creds = await planeCredentials(planeName(labName, topology.domain), lab.signingRoot, Date.now());
    const httpsPort = await plane.listenHttps(creds);
    dashboardUrl = `https://127.0.0.1:${httpsPort}/`;
    await saveState({
      ...state,
      controlPlane: { url, token, dashboardUrl, dashboardName: creds.name },
      processes: lab.processes,
      trapLog: lab.trapLog,
    });
    // Found from any directory from now on (lab-registry.ts); a failure here only costs that.
    await registerLab({ name: labName, labsDir: dir, pid: process.pid, startedAt: state.startedAt }).catch(
      (err: Error) => console.log(`note: the lab is not registered for other directories (${err.message})`),
    );
  } catch (err) {
    await stop('start failed');
    signalsOff();
    throw err;
  }
  lab.endProgress();
  progress.finish();
  const rootFile = lab.caRootPem ? join(lab.dir, 'ca-root.pem') : undefined;
  if (rootFile && lab.caRootPem) {
    // A CA that keeps its key (not Pebble): the root the lab made for its dashboard goes into the same file.
    await writeFile(rootFile, lab.caRootPem + (creds?.ownRootPem ? '\n' + creds.ownRootPem : ''));
  }
  const dashboard: string[] = [];
  if (creds) {
    const port = new URL(dashboardUrl).port;
    dashboard.push(`dashboard:   ${dashboardUrl}   (user admin; or https://${creds.name}:${port}/ by name)`);
    if (rootFile)
      dashboard.push(
        `  curl:      curl --cacert ${rootFile} --resolve ${creds.name}:${port}:127.0.0.1 https://${creds.name}:${port}/`,
      );
  }
  printUp(lab, labName, topology, t0, rootFile, `${cmd} %s${nameOpt}`, dashboard);
  // The event feed: one line per event from here on (the start's own events were the table).
  console.log('\nevents (Ctrl-C stops the lab):');
  feed.off = lab.events.subscribe((e) => console.log(formatEventLine(e)));

  stopOnSignal = stopAndSettle;
  if (interrupted) stopAndSettle(interrupted);
  await down;
  signalsOff();
}

/**
 * The table and the hints after it. Every hint works as printed: URLs by the
 * name the certificate carries, with the curl line that reaches it (the lab's
 * DNS names are not in the system resolver: --resolve pins the name to the
 * box's address), and commands spelled as this process was invoked
 * (`verb` is "<command> lab %s [--name L]").
 */
function printUp(
  lab: Lab,
  labName: string,
  topology: { adminPassword?: string | undefined; adminPasswordEnv: string },
  t0: number,
  rootFile: string | undefined,
  verb: string,
  dashboard: readonly string[],
): void {
  const labVerb = (v: string) => verb.replace('%s', v);
  const elapsed = ((Date.now() - t0) / 1000).toFixed(1);
  const rows = lab.status();
  console.log('');
  console.log(statusTable(rows));
  console.log('');
  const ok = rows.filter((r) => r.certificate.status === 'valid').length;
  console.log(`lab ${labName} is up: ${rows.length} boxes, ${ok} with a valid certificate, in ${elapsed} s`);
  console.log(lab.addressingNote);
  const first = rows.find((r) => r.boxId === 3) ?? rows[0];
  if (first) {
    const portOpt = first.ports.ssh === 22 ? '' : ` -p ${first.ports.ssh}`;
    const password = topology.adminPassword
      ? 'from the topology'
      : process.env[topology.adminPasswordEnv]
        ? `$${topology.adminPasswordEnv}`
        : lab.adminPassword;
    console.log(`log in:      ssh${portOpt} admin@${first.address}   (password: ${password})`);
    const https = first.ports.https;
    const port = https === 443 ? '' : `:${https}`;
    const name = lab.domainFor(first.boxId);
    const byName = name !== first.address;
    const url = `https://${name.includes(':') ? `[${name}]` : name}${port}/`;
    const resolveOpt = byName ? ` --resolve ${name}:${https}:${first.address}` : '';
    const cacert = rootFile ? `--cacert ${rootFile}` : '';
    // topology address-in-certificate: the certificate names the address too, so the plain URL verifies.
    const address = lab.certificateAddressFor(first.boxId);
    const names = address ? `${name} and ${address}` : name;
    console.log(`web:         ${url}   (box ${first.boxId}; its certificate names ${names})`);
    if (rootFile) {
      const user =
        topology.adminPassword || process.env[topology.adminPasswordEnv]
          ? 'admin'
          : `admin:${lab.adminPassword}`;
      console.log(`  curl:      curl ${cacert}${resolveOpt} ${url}`);
      if (address)
        console.log(
          `  by address: curl ${cacert} https://${address.includes(':') ? `[${address}]` : address}${port}/`,
        );
      console.log(`  REST API:  curl ${cacert}${resolveOpt} -u ${user} ${url}api/v1/system/version`);
    }
    if (byName)
      console.log(
        `  names:     ${labVerb('hosts')} prints an /etc/hosts snippet; to trust the lab's root see the README (Trusting the lab's CA)`,
      );
  }
  for (const l of dashboard) console.log(l);
  if (rootFile) console.log(`CA root:     ${rootFile}`);
  if (lab.trapLog) console.log(`trap log:    ${lab.trapLog}   (${labVerb('traps --follow')})`);
  console.log(`events:      ${labVerb('events --follow')} from another shell`);
  console.log(`stop:        Ctrl-C, or ${labVerb('down')}`);
}
