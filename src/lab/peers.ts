/**
 * The real peers a lab runs beside its boxes, as child processes of the lab
 * (Debian packages; peers.md has the commands and their pitfalls), started
 * with the launchers of the features that own them (acme/pebble-launcher.ts,
 * snmp/trapd-launcher.ts); this file adds ports, files, PIDs and cleanup:
 * - the CA: Pebble, with pebble-challtestsrv as the DNS server that answers
 *   the boxes' names (the boxes use it as their `ip name-server`);
 * - the trap receiver: snmptrapd with the project's MIB, logging one line per
 *   notification to the lab's trap log.
 *
 * Contract: start* resolves once the peer answers, or rejects after stopping
 * whatever it had started (never leaves a process behind); stop() ends every
 * process it started, by PID, and resolves when they have exited. A missing
 * binary is reported with the exact package to install.
 */
import { spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdir, writeFile, readFile, open } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import {
  CHALLTESTSRV_READY,
  challtestsrvArgs,
  createListenerCertificate,
  PEBBLE_READY,
  servesDirectory,
  pebbleArgs,
  pebbleConfig,
  pebbleEnv,
  PortTakenError,
  spawnDaemon,
  type Daemon,
} from '../acme/pebble-launcher.js';
import { Gate } from '../lib/gate.js';
import { freePort } from '../lib/net.js';
import type { SigningCa } from '../pki/issued.js';
import { TRAPD_READY_TEXT, trapdConfigText, trapdLaunch, udpPortBound } from '../snmp/trapd-launcher.js';

/** A process the lab started: enough to stop it later from another process (`lab down`). */
export interface PeerProcessRecord {
  name: string;
  pid: number;
  /** The executable, to check that a PID still belongs to it before signalling. */
  command: string;
}

/** A started peer. */
interface Peer {
  readonly processes: PeerProcessRecord[];
  stop(): Promise<void>;
}

/** The lab's CA as the boxes use it. */
export interface LabCa extends Peer {
  /** The ACME directory URL the boxes use (faults act in each box's own transport). */
  readonly directoryUrl: string;
  /** Certificates the boxes must trust: the TLS of the directory and the issuing root. */
  readonly trustPems: string[];
  /** The root the issued certificates chain to (verification in tests and status). */
  readonly issuingRootPem: string;
  /** Pebble's management API (https, listener CA): /roots/0, /cert-status-by-serial/<hex>. */
  readonly managementUrl?: string;
  /** The CA of the directory's TLS (Pebble's listener CA). */
  readonly listenerCaPem?: string;
  /** The name server the boxes use ("ip:port"), when the lab runs one. */
  readonly nameServer: string | undefined;
  /**
   * The issuing root with its private key, when the CA gives it out (Pebble's
   * management API does: /root-keys/0); undefined for a CA that does not.
   * The key is secret: never printed, logged or written.
   */
  readonly signingRoot?: () => Promise<SigningCa>;
  /** Make `name` resolve to `address` at the lab's name server (no-op without one). */
  addHost(name: string, address: string): Promise<void>;
}

/** The lab's trap receiver. */
export interface LabTrapReceiver extends Peer {
  readonly host: string;
  readonly port: number;
  /** One line per notification received (snmptrapd), or undefined for an external receiver. */
  readonly logFile: string | undefined;
}

/** The Debian package of each binary the lab runs. */
const PACKAGE_OF: Record<string, string> = {
  pebble: 'pebble',
  'pebble-challtestsrv': 'pebble',
  snmptrapd: 'snmptrapd',
  openssl: 'openssl',
};

/** Absolute path of `bin` on PATH (or the sbin directories, where Debian puts snmptrapd), else a one-line error naming the package. */
export function findBinary(bin: string, env: NodeJS.ProcessEnv = process.env): string {
  const dirs = [...(env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'].filter(Boolean);
  for (const d of dirs) {
    const p = join(d, bin);
    if (existsSync(p)) return p;
  }
  const pkg = PACKAGE_OF[bin] ?? bin;
  throw new Error(
    `${bin} is not installed: run "apt-get install ${pkg}" (as root; the lab runs it as its ${bin === 'snmptrapd' ? 'trap receiver' : 'CA'})`,
  );
}

/** Resolve when `test` returns true, checking every 50 ms; reject naming `what` after timeoutMs or when `dead()` says the process exited. */
async function waitFor(
  what: string,
  test: () => boolean | Promise<boolean>,
  dead: () => string | undefined,
  timeoutMs = 15_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await test()) return;
    const why = dead();
    if (why !== undefined) throw new Error(`${what} exited before it was ready: ${why}`);
    if (Date.now() > until) throw new Error(`${what} was not ready within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What a lab Pebble is started with. */
export interface PebbleCaOptions {
  /** Where its config, TLS key pair and logs go. */
  dir: string;
  /** The port Pebble's VA dials for http-01 (80 when every box has its own address). */
  httpPort: number;
  /** The port Pebble's VA dials for tls-alpn-01 (443 when every box has its own address). */
  tlsPort: number;
  /** Lifetime of the certificates it issues. */
  validityHours: number;
}

/**
 * Start pebble-challtestsrv (the boxes' name server) and Pebble with the ACME
 * feature's launcher (src/acme/pebble-launcher.ts: listener certificate,
 * config, knobs, readiness), on free loopback ports, retrying with new ports
 * when one was taken in between. Resolves with the issuing root fetched
 * after start (Pebble makes a new one each start).
 */
export async function startPebbleCa(o: PebbleCaOptions): Promise<LabCa> {
  const pebbleBin = findBinary('pebble');
  const dnsBin = findBinary('pebble-challtestsrv');
  findBinary('openssl');
  await mkdir(o.dir, { recursive: true, mode: 0o700 });
  const started: Daemon[] = [];
  const stopAll = async () => {
    await Promise.all(started.map((d) => d.stop()));
  };
  try {
    const listener = await createListenerCertificate(
      o.dir,
      ['localhost', '127.0.0.1', '::1'],
      'gvos-sim lab pebble listener CA',
    );
    let dnsPort = 0;
    let dnsMgmtPort = 0;
    for (let attempt = 0; ; attempt++) {
      dnsPort = await freePort('127.0.0.1', 'both');
      dnsMgmtPort = await freePort();
      try {
        started.push(
          await spawnDaemon(
            dnsBin,
            challtestsrvArgs({
              dnsAddress: `127.0.0.1:${dnsPort}`,
              managementAddress: `127.0.0.1:${dnsMgmtPort}`,
              defaultIPv4: '127.0.0.1',
            }),
            {
              ready: CHALLTESTSRV_READY,
              logFile: join(o.dir, 'challtestsrv.log'),
            },
          ),
        );
        break;
      } catch (err) {
        if (!(err instanceof PortTakenError) || attempt >= 2) throw err;
      }
    }
    let acmePort = 0;
    let mgmtPort = 0;
    for (let attempt = 0; ; attempt++) {
      acmePort = await freePort();
      mgmtPort = await freePort();
      const config = join(o.dir, 'pebble-config.json');
      await writeFile(
        config,
        JSON.stringify(
          pebbleConfig({
            listenAddress: `127.0.0.1:${acmePort}`,
            managementListenAddress: `127.0.0.1:${mgmtPort}`,
            certificatePath: listener.certPath,
            privateKeyPath: listener.keyPath,
            httpPort: o.httpPort,
            tlsPort: o.tlsPort,
            certificateValidityPeriodSec: o.validityHours * 3600,
          }),
        ),
      );
      try {
        // No VA sleep and no nonce rejections: a lab of 50 boxes issues in seconds (peers.md §1).
        started.push(
          await spawnDaemon(pebbleBin, pebbleArgs(config, `127.0.0.1:${dnsPort}`), {
            env: pebbleEnv(),
            ready: PEBBLE_READY,
            serving: () => servesDirectory(`https://127.0.0.1:${acmePort}/dir`, listener.caPem),
            logFile: join(o.dir, 'pebble.log'),
          }),
        );
        break;
      } catch (err) {
        if (!(err instanceof PortTakenError) || attempt >= 2) throw err;
      }
    }
    const issuingRoot = await httpsGet(`https://127.0.0.1:${mgmtPort}/roots/0`, listener.caPem);
    await writeFile(join(o.dir, 'issuing-root.pem'), issuingRoot);
    const addHostGate = new Gate(16);
    const records: PeerProcessRecord[] = [
      { name: 'pebble-challtestsrv', pid: started[0]!.pid, command: dnsBin },
      { name: 'pebble', pid: started[1]!.pid, command: pebbleBin },
    ];
    return {
      directoryUrl: `https://127.0.0.1:${acmePort}/dir`,
      trustPems: [listener.caPem, issuingRoot],
      issuingRootPem: issuingRoot,
      nameServer: `127.0.0.1:${dnsPort}`,
      managementUrl: `https://127.0.0.1:${mgmtPort}`,
      listenerCaPem: listener.caPem,
      processes: records,
      signingRoot: async () => ({
        certPem: issuingRoot,
        key: createPrivateKey(await httpsGet(`https://127.0.0.1:${mgmtPort}/root-keys/0`, listener.caPem)),
      }),
      async addHost(name: string, address: string) {
        // A thousand boxes configure at once: bounded in flight, and retried (add-a replaces
        // the record, so a repeat is harmless) when a loaded machine lets one time out.
        const release = await addHostGate.acquire();
        try {
          for (let attempt = 1; ; attempt++) {
            const ok = await httpOk(
              `http://127.0.0.1:${dnsMgmtPort}/add-a`,
              'POST',
              JSON.stringify({ host: name, addresses: [address] }),
            );
            if (ok) return;
            if (attempt >= 3) throw new Error(`pebble-challtestsrv did not accept the name ${name}`);
          }
        } finally {
          release();
        }
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * An ACME server the lab does not run (e.g. step-ca): its directory and root.
 * The root file may hold several certificates (a bundle): each goes into the
 * boxes' CA list, for a CA whose TLS root differs from its issuing root
 * (Pebble in docker/: its `ca-root.pem` holds both).
 */
export async function externalCa(
  directoryUrl: string,
  rootFile: string,
  nameServer: string | undefined,
): Promise<LabCa> {
  let root: string;
  try {
    root = await readFile(rootFile, 'utf8');
  } catch (err) {
    throw new Error(
      `ca.root: cannot read ${rootFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const pems = root.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!pems) throw new Error(`ca.root: ${rootFile} holds no PEM certificate`);
  return {
    directoryUrl,
    trustPems: pems.map((p) => `${p}\n`),
    issuingRootPem: root,
    nameServer,
    processes: [],
    addHost: async () => undefined,
    stop: async () => undefined,
  };
}

/** What a lab snmptrapd is started with. */
export interface SnmptrapdOptions {
  dir: string;
  community: string;
  /** The trap log: one line per notification (format of src/snmp/trapd-launcher.ts, parse with parseTrapdLine). */
  logFile: string;
}

/**
 * Start snmptrapd with the SNMP feature's launcher (src/snmp/trapd-launcher.ts:
 * config, the project's MIB, the line format) on a free UDP port of
 * 127.0.0.1, logging to the trap log FILE (a pipe that falls behind would
 * make it drop notifications). Ready when it prints its version line and
 * its port is bound.
 */
export async function startSnmptrapd(o: SnmptrapdOptions): Promise<LabTrapReceiver> {
  const bin = findBinary('snmptrapd');
  const persistentDir = join(o.dir, 'persist');
  await mkdir(persistentDir, { recursive: true, mode: 0o700 });
  const configPath = join(o.dir, 'snmptrapd.conf');
  // acceptAll: a lab receiver logs every notification, whatever community a box was given.
  await writeFile(configPath, trapdConfigText({ communities: [o.community], users: [], acceptAll: true }), {
    mode: 0o600,
  });
  for (let attempt = 0; ; attempt++) {
    const port = await freePort('127.0.0.1', 'udp');
    const launch = trapdLaunch({
      host: '127.0.0.1',
      port,
      configPath,
      pidPath: join(o.dir, 'snmptrapd.pid'),
      persistentDir,
    });
    const log = await open(o.logFile, 'a', 0o600);
    const proc = spawn(bin, launch.args, {
      env: { ...process.env, ...launch.env },
      stdio: ['ignore', log.fd, log.fd],
    });
    // Listen before any await: 'spawn' and 'error' fire on the next tick.
    const spawned = new Promise<Error | undefined>((resolve) => {
      proc.once('spawn', () => resolve(undefined));
      proc.once('error', (e) => resolve(new Error(`cannot start snmptrapd (${bin}): ${e.message}`)));
    });
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    await log.close();
    const stop = async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(t);
    };
    const startErr = await spawned;
    if (startErr) throw startErr;
    lowerPriority(proc.pid!);
    const text = async () => (await readFile(o.logFile, 'utf8').catch(() => '')).toString();
    try {
      await waitFor(
        'snmptrapd',
        async () => (await text()).includes(TRAPD_READY_TEXT) && udpPortBound(port),
        () => (proc.exitCode !== null ? `exit code ${proc.exitCode}; see ${o.logFile}` : undefined),
      );
    } catch (err) {
      await stop();
      if (attempt < 2 && /address already in use|bind/i.test(await text())) continue;
      throw err;
    }
    return {
      host: '127.0.0.1',
      port,
      logFile: o.logFile,
      processes: [{ name: 'snmptrapd', pid: proc.pid!, command: bin }],
      stop,
    };
  }
}

/**
 * The lab's snmptrapd runs TRAPD_NICE below the lab's own priority (nice + 10). Why: every notification a box
 * sends wakes it, and on a busy 2-core host the woken receiver took the core
 * from the process that sent it (the one running every box) at each trap: the
 * sends showed as the lab's largest extra per certificate over the agent
 * alone. At a lower priority it reads the same datagrams a little later
 * (the socket buffer holds a fleet's burst; the regression still counts every
 * trap) and the boxes keep their core. Best effort: a host that refuses it
 * (EPERM, EACCES) runs the receiver at the default priority.
 */
const TRAPD_NICE = 10;

function lowerPriority(pid: number): void {
  try {
    setPriority(pid, Math.min(19, getPriority() + TRAPD_NICE));
  } catch {
    // Not allowed here: the receiver keeps the default priority (slower labs, same results).
  }
}

/** A trap receiver the lab does not run. */
export function externalTrapReceiver(host: string, port: number): LabTrapReceiver {
  return { host, port, logFile: undefined, processes: [], stop: async () => undefined };
}

function httpOk(url: string, method: string, body: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { method, timeout: 2_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve((res.statusCode ?? 500) < 400));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end(body);
  });
}

/** GET over HTTPS trusting only `caPem`; resolves the body, rejects on a non-200. */
function httpsGet(url: string, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca: caPem, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.end();
  });
}
