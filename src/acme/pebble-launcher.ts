/**
 * Launching Pebble (letsencrypt's ACME test server, Debian package
 * `pebble`) and pebble-challtestsrv (its mock DNS) as child processes, for
 * the integration tests (test/harness/pebble.ts) and the lab (src/lab/).
 * Everything here follows ../shared/reference/peers.md §1:
 * - Pebble's own listeners need a TLS certificate; the Debian package ships
 *   none, so {@link createListenerCertificate} makes a small CA and a leaf
 *   with openssl. Clients add that CA to their CA list. It is NOT the root
 *   that signs issued certificates: Pebble makes a new one on every start
 *   (management port /roots/0).
 * - PEBBLE_VA_NOSLEEP=1 (no 0-15 s random sleep), PEBBLE_WFE_NONCEREJECT
 *   (default 0 here; Pebble's own default is 5 %), PEBBLE_AUTHZREUSE=0.
 *   0 still reuses a valid authorization in about 1 order of 100: Pebble 2.4
 *   makes a new one only when `rand.Intn(100) > percent`, and a negative
 *   value falls back to its default of 50. Nothing may count on a challenge
 *   being asked again for an identifier validated within the hour.
 * - challtestsrv: its http/tls challenge servers are disabled (they would
 *   hold the box's ports) and -defaultIPv6 "" (else Pebble's VA dials [::1]
 *   and never falls back to IPv4).
 * - Ready when the log shows "ACME directory available at" (Pebble) or
 *   "Starting management server" (challtestsrv); stopped by PID only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { opensslRequest, opensslSelfSigned, opensslSign } from '../pki/openssl-cli.js';

/** Pebble's configuration file (keys Pebble 2.4.0 reads; unknown keys are silently ignored by Go). */
export interface PebbleConfigOptions {
  /** host:port of the ACME API. */
  listenAddress: string;
  /** host:port of the management API (/roots/0, /cert-status-by-serial/...). */
  managementListenAddress: string;
  certificatePath: string;
  privateKeyPath: string;
  /** The port Pebble's VA fetches http-01 from: the box's http port. */
  httpPort: number;
  /** The port Pebble's VA uses for tls-alpn-01: the box's https port. */
  tlsPort: number;
  /** Lifetime of issued certificates in seconds (Pebble's default: 5 years). */
  certificateValidityPeriodSec?: number;
}

/** The JSON Pebble reads with -config. */
export function pebbleConfig(o: PebbleConfigOptions): { pebble: Record<string, unknown> } {
  const pebble: Record<string, unknown> = {
    listenAddress: o.listenAddress,
    managementListenAddress: o.managementListenAddress,
    certificate: o.certificatePath,
    privateKey: o.privateKeyPath,
    httpPort: o.httpPort,
    tlsPort: o.tlsPort,
    ocspResponderURL: '',
    externalAccountBindingRequired: false,
  };
  if (o.certificateValidityPeriodSec !== undefined)
    pebble['certificateValidityPeriod'] = o.certificateValidityPeriodSec;
  return { pebble };
}

/** Fault and speed knobs of Pebble, read from its environment. */
export interface PebbleKnobs {
  /** Percent of good nonces rejected with badNonce (PEBBLE_WFE_NONCEREJECT). Default 0. */
  nonceRejectPercent?: number;
  /** Percent of orders that reuse a valid authorization (PEBBLE_AUTHZREUSE). Default 0 (in fact about 1 %, see above). */
  authzReusePercent?: number;
  /** Skip the VA's random 0-15 s sleep (PEBBLE_VA_NOSLEEP). Default true. */
  vaNoSleep?: boolean;
}

/** The environment for a Pebble process. */
export function pebbleEnv(k: PebbleKnobs = {}): Record<string, string> {
  const env: Record<string, string> = {
    PEBBLE_WFE_NONCEREJECT: String(k.nonceRejectPercent ?? 0),
    PEBBLE_AUTHZREUSE: String(k.authzReusePercent ?? 0),
  };
  if (k.vaNoSleep ?? true) env['PEBBLE_VA_NOSLEEP'] = '1';
  return env;
}

/** Pebble's arguments: the config file and the mock DNS it resolves names with. */
export function pebbleArgs(configPath: string, dnsServer: string): string[] {
  return ['-config', configPath, '-dnsserver', dnsServer, '-strict=false'];
}

/** pebble-challtestsrv's arguments: DNS only, answering A queries with `defaultIPv4`, no AAAA. */
export function challtestsrvArgs(o: {
  dnsAddress: string;
  managementAddress: string;
  defaultIPv4: string;
}): string[] {
  return [
    '-dns01',
    o.dnsAddress,
    '-http01',
    '',
    '-https01',
    '',
    '-tlsalpn01',
    '',
    '-management',
    o.managementAddress,
    '-defaultIPv4',
    o.defaultIPv4,
    '-defaultIPv6',
    '',
  ];
}

/**
 * The log line that says Pebble is about to serve. Pebble prints it before it
 * binds the port, so it does not prove the port is Pebble's: see
 * {@link servesDirectory} for the check that does.
 */
export const PEBBLE_READY = /ACME directory available at: (\S+)/;
/** The log line that says challtestsrv is ready. */
export const CHALLTESTSRV_READY = /Starting management server on/;
/** Log lines that mean a port was taken between choosing and binding it. */
const PORT_TAKEN = /address already in use/i;

/** How much of a daemon's output is kept (the most recent part), in characters. */
const MAX_DAEMON_OUTPUT = 1024 * 1024;

/** A started daemon: its PID, its output so far (the last MAX_DAEMON_OUTPUT characters at least), and a stop by PID. */
export interface Daemon {
  readonly pid: number;
  readonly proc: ChildProcess;
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Thrown when a daemon could not bind a port it was given (choose new ports and retry). */
export class PortTakenError extends Error {}

/**
 * Spawn `command` and resolve once its output matches `ready`; reject with
 * its output if it exits first, reports a taken port (PortTakenError), or
 * `timeoutMs` passes (the process is killed then).
 */
export function spawnDaemon(
  command: string,
  args: string[],
  o: {
    env?: Record<string, string>;
    cwd?: string;
    ready: RegExp;
    /**
     * After the ready line, polled until it resolves true: for a daemon that
     * announces a port before binding it (Pebble), so that a port taken in
     * the meantime ends in PortTakenError instead of a foreign server.
     */
    serving?: () => Promise<boolean>;
    timeoutMs?: number;
    logFile?: string;
  },
): Promise<Daemon> {
  const proc = spawn(command, args, {
    cwd: o.cwd,
    env: { ...process.env, ...(o.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // Bounded: Pebble logs several lines per request, and a lab or a benchmark runs it for long.
  const append = (s: string) => {
    out += s;
    if (out.length > 2 * MAX_DAEMON_OUTPUT) out = out.slice(-MAX_DAEMON_OUTPUT);
  };
  // The log file is written at every exit, not only at stop(): a daemon that died (or was
  // asked with SIGQUIT for its goroutines, which Go prints on stderr before exiting) keeps
  // what it said last.
  const exited = new Promise<void>((r) =>
    proc.once('exit', (code, signal) => {
      append(`\n[${command} exited: code ${code}, signal ${signal}]\n`);
      if (o.logFile) void writeFile(o.logFile, out).then(r, r);
      else r();
    }),
  );
  const daemon: Daemon = {
    pid: proc.pid ?? -1,
    proc,
    output: () => out,
    stop: async (graceMs = 3000) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        void daemon.stop(500).then(() => reject(err));
      } else resolve(daemon);
    };
    let readySeen = false;
    const untilServing = async () => {
      while (!settled) {
        if (await o.serving!().catch(() => false)) return settle();
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const onData = (d: Buffer) => {
      append(d.toString());
      // Only until ready: scanning the whole output on every chunk is quadratic, and a
      // slow reader stalls the daemon once its stdout pipe is full (seen with Pebble under load).
      if (settled) return;
      if (PORT_TAKEN.test(out)) settle(new PortTakenError(`${command}: a port was taken:\n${out}`));
      else if (!readySeen && o.ready.test(out)) {
        readySeen = true;
        if (o.serving) void untilServing();
        else settle();
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('error', (e) =>
      settle(new Error(`${command} could not start: ${e.message} (is the Debian package installed?)`)),
    );
    proc.once('exit', (code, sig) =>
      settle(
        PORT_TAKEN.test(out)
          ? new PortTakenError(`${command}: a port was taken:\n${out}`)
          : new Error(`${command} exited (${code ?? sig}) before it was ready:\n${out}`),
      ),
    );
    const timer = setTimeout(
      () => settle(new Error(`${command} not ready after ${o.timeoutMs ?? 10_000} ms:\n${out}`)),
      o.timeoutMs ?? 10_000,
    );
  });
}

/**
 * True when `directoryUrl` answers 200 over TLS verified against `caPem`
 * (the listener CA made for this start, so no other server can pass).
 */
export function servesDirectory(directoryUrl: string, caPem: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsGet(directoryUrl, { ca: caPem, agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** The files of Pebble's listener certificate. */
export interface ListenerCertificate {
  /** The CA that signed the listener certificate: what ACME clients must trust. */
  caPem: string;
  caName: string;
  certPath: string;
  keyPath: string;
}

/**
 * A CA named `caName` and a P-256 server certificate for `names` (DNS names
 * and IPs) signed by it, written into `dir` with the openssl CLI; valid
 * 30 days.
 */
export async function createListenerCertificate(
  dir: string,
  names: string[],
  caName = 'gvos-sim pebble listener CA',
): Promise<ListenerCertificate> {
  const p = (f: string) => join(dir, f);
  const san = names.map((n) => (/^[0-9.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  await opensslSelfSigned({ cn: caName, keyOut: p('ca.key'), certOut: p('ca.pem'), days: 30 });
  await opensslRequest({ cn: names[0] ?? 'localhost', keyOut: p('key.pem'), csrOut: p('srv.csr') });
  await writeFile(
    p('ext.cnf'),
    `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`,
  );
  await opensslSign({
    csr: p('srv.csr'),
    caCert: p('ca.pem'),
    caKey: p('ca.key'),
    days: 30,
    extfile: p('ext.cnf'),
    out: p('cert.pem'),
  });
  return {
    caPem: await readFile(p('ca.pem'), 'utf8'),
    caName,
    certPath: p('cert.pem'),
    keyPath: p('key.pem'),
  };
}
