/**
 * Helpers of the CLI end-to-end tests. Every peer is real:
 *
 * - the peers of a test file (startCliPeers): one Pebble with
 *   pebble-challtestsrv as the boxes' name server, and one snmptrapd;
 * - an in-process lab (startLab): two boxes in one cluster from
 *   makeTestBox, each with the real AcmeAgent and SnmpNotifier plugged into
 *   the device's ports (as src/host/box-host.ts does), box 1 serving HTTPS
 *   and http-01 with the web feature's WebServer and the CLI with the real
 *   SSH and TCP servers;
 * - the clients: the OpenSSH client through sshpass (host key checked
 *   against a known_hosts line built from the box's key) and a raw TCP
 *   client.
 *
 * Each file gets its own loopback address (127.0.0.x) for the box's
 * listeners: Pebble's VA dials the http-01 port on the identifier's address
 * (challtestsrv answers every name with that address), so two files running
 * at once must not share it. Every process and server a test starts is
 * stopped by lab.close() or peers.stop(), by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { Test } from 'tap';
import { AcmeAgent } from '../../src/acme/agent.js';
import { freePort } from '../../src/lib/net.js';
import type { Box } from '../../src/device/box.js';
import type { Cluster } from '../../src/device/cluster.js';
import { SshCliServer } from '../../src/cli/transports/ssh.js';
import { TcpCliServer } from '../../src/cli/transports/tcp.js';
import { silentLogger } from '../../src/lib/logger.js';
import { SystemClock } from '../../src/lib/clock.js';
import { SnmpNotifier } from '../../src/snmp/notifier.js';
import { createNetSnmpSender } from '../../src/snmp/net-snmp-sender.js';
import { WebServer } from '../../src/web/server.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { createSelfSigned } from '../../src/pki/self-signed.js';
import { ADMIN, makeTestBox, TEST_PASSWORD, acmePortOf } from '../harness/boxes.js';
import { FaultProxy } from '../harness/fault-proxy.js';
import { FAST_ACME, opensslVerify, servedCertificate, startPebble, type Pebble } from '../harness/pebble.js';
import { TrapReceiver } from '../harness/snmptrapd.js';

export { TEST_PASSWORD };

// ------------------------------------------------------------------ peers of a test file

/** The v2c community and the v3 user (informs) the scripts configure and the receiver accepts. */
const TRAP_COMMUNITY = 'e2e-community';
const TRAP_USER = { name: 'e2e-u', authPass: 'authpass1', privPass: 'privpass1' } as const;

/** The domain the scripts issue for: challtestsrv answers it (like any name) with the lab's address. */
export const E2E_DOMAIN = 'e2e.lab.test';

/** The real peers one test file shares between its labs. */
export interface CliPeers {
  /** The loopback address of this file's box listeners. */
  address: string;
  /** The http-01 port Pebble's VA dials on `address`: every lab's WebServer serves it. */
  httpPort: number;
  pebble: Pebble;
  /** Pebble's issuing root, which the box must trust to accept the chain it gets (CA list). */
  rootPem: string;
  /** snmptrapd, accepting TRAP_COMMUNITY (v2c) and TRAP_USER (v3 informs: SHA-256, AES). */
  trapd: TrapReceiver;
  stop(): Promise<void>;
}

/**
 * Pebble (its VA dialling `address` on a free port, challtestsrv answering
 * every name with `address`) and snmptrapd, started together.
 */
async function startCliPeers(address: string): Promise<CliPeers> {
  const httpPort = await freePort(address);
  const [pebble, trapd] = await Promise.all([
    startPebble({ httpPort, defaultIPv4: address }),
    TrapReceiver.start({
      communities: [TRAP_COMMUNITY],
      users: [
        {
          name: TRAP_USER.name,
          auth: { protocol: 'SHA-256', password: TRAP_USER.authPass },
          priv: { protocol: 'AES', password: TRAP_USER.privPass },
        },
      ],
    }),
  ]);
  return {
    address,
    httpPort,
    pebble,
    rootPem: await pebble.root(),
    trapd,
    stop: async () => {
      await Promise.all([pebble.stop(), trapd.stop()]);
    },
  };
}

// ------------------------------------------------------------------ the lab

/** What the SSH helpers need to reach a box: its address, its SSH port and a known_hosts file with its key. */
export interface SshTarget {
  address: string;
  sshPort: number;
  knownHosts: string;
}

export interface CliLab extends SshTarget {
  peers: CliPeers;
  cluster: Cluster;
  /** Box 1, looked up now. */
  box(): Box;
  /** The ACME agent and SNMP notifier of box 1. */
  agent: AcmeAgent;
  notifier: SnmpNotifier;
  ssh: SshCliServer;
  tcp: TcpCliServer;
  tcpPort: number;
  /** Box 1's HTTPS port (the web certificate the ACME commands replace is served there). */
  httpsPort: number;
  dir: string;
  close(): Promise<void>;
}

/**
 * Two boxes in one cluster on `peers.address`; box 1 serves the CLI over SSH
 * and TCP and HTTPS/http-01 on the peers' http port. Labs of one file run one
 * after the other (they share that port).
 */
async function startLab(peers: CliPeers, o: { maxSessions?: number } = {}): Promise<CliLab> {
  const clock = new SystemClock();
  const address = peers.address;
  const { cluster } = await makeTestBox({ boxId: 1, clock, address });
  await makeTestBox({ boxId: 2, clock, cluster, address });
  const box = () => cluster.get(1);
  // The device's ports, plugged in as the host plugs them: the real agent (fast polling against
  // Pebble) and the real notifier. The CA list starts empty: the scripts add Pebble's CAs.
  const agents = [1, 2].map((id) => {
    const b = cluster.get(id);
    const agent = new AcmeAgent({ port: acmePortOf(b), clock, logger: silentLogger, settings: FAST_ACME });
    b.attachAcme(agent);
    agent.resume();
    const notifier = new SnmpNotifier({
      senderFactory: createNetSnmpSender,
      box: b,
      clock,
      logger: silentLogger,
    });
    b.attachSnmp(notifier);
    notifier.start();
    return { agent, notifier };
  });
  const web = new WebServer({
    box: box(),
    address,
    httpsPort: 0,
    httpPort: peers.httpPort,
    logger: silentLogger,
    cluster,
  });
  const common = {
    address,
    port: 0,
    cluster,
    boxId: 1,
    logger: silentLogger,
    ...(o.maxSessions ? { maxSessions: o.maxSessions } : {}),
  };
  const ssh = new SshCliServer({ ...common, hostKeyPem: box().sshHostKey });
  const tcp = new TcpCliServer(common);
  const [{ https: httpsPort }, sshPort, tcpPort] = await Promise.all([
    web.listen(),
    ssh.listen(),
    tcp.listen(),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'gvos-cli-'));
  const knownHosts = join(dir, 'known_hosts');
  writeKnownHosts(knownHosts, address, sshPort, box().sshHostKey);
  const target = { address, sshPort, knownHosts };
  return {
    ...target,
    peers,
    cluster,
    box,
    agent: agents[0]!.agent,
    notifier: agents[0]!.notifier,
    ssh,
    tcp,
    tcpPort,
    httpsPort,
    dir,
    close: async () => {
      killSshClients(target);
      for (const a of agents) {
        a.agent.stop();
        a.notifier.stop();
      }
      await Promise.all([ssh.close(), tcp.close(), web.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------ OpenSSH client

/** The known_hosts line of a box's SSH host key (SEC1/PKCS#8 PEM, as state.json keeps it). */
function knownHostsLine(address: string, port: number, hostKeyPem: string): string {
  const parsed = ssh2.utils.parseKey(hostKeyPem);
  if (parsed instanceof Error) throw parsed;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return `[${address}]:${port} ${key.type} ${key.getPublicSSH().toString('base64')}\n`;
}

/**
 * The lab's box set to order from `peers`' Pebble (its name server, the
 * listener CA and the issuing root in the CA list) through a proxy that holds
 * back every chunk the CA sends (the lab's acme-slow fault), so an issue
 * command (which fetches the directory before it answers) is still running
 * when its client goes. `proxy.setSlow(0)` lets it finish; the proxy closes
 * at the end of `t`.
 */
export async function slowAcmeDirectory(
  t: Test,
  lab: CliLab,
  peers: CliPeers,
): Promise<{ box: Box; directoryUrl: string; proxy: FaultProxy }> {
  const box = lab.box();
  box.addNameServer(ADMIN, peers.pebble.dnsServer);
  await box.addPublicCertificate(ADMIN, 'pebble-ca', peers.pebble.listenerCaPem);
  await box.addCaListEntry(ADMIN, 'pebble-ca');
  await box.addPublicCertificate(ADMIN, 'pebble-root', peers.rootPem);
  await box.addCaListEntry(ADMIN, 'pebble-root');
  const proxy = new FaultProxy('127.0.0.1', peers.pebble.ports.acme);
  const directoryUrl = `https://127.0.0.1:${await proxy.listen()}/dir`;
  t.teardown(() => proxy.close());
  proxy.setSlow(300);
  return { box, directoryUrl, proxy };
}

/** Wait (up to 5 s) until the box's last ACME request is for `domain`. */
export async function lastRequestFor(box: Box, domain: string): Promise<void> {
  for (let i = 0; i < 100 && box.acmeState().lastRequest?.domain !== domain; i++)
    await new Promise((r) => setTimeout(r, 50));
}

/**
 * A CLI test file's set-up: its peers on `address`, stopped when `file`
 * ends, and withLab() for a lab per test, closed when that test ends.
 */
export async function cliTestFile(
  file: Test,
  address: string,
): Promise<{ peers: CliPeers; withLab: (t: Test, o?: { maxSessions?: number }) => Promise<CliLab> }> {
  const peers = await startCliPeers(address);
  file.teardown(() => peers.stop());
  const withLab = async (t: Test, o: { maxSessions?: number } = {}): Promise<CliLab> => {
    const lab = await startLab(peers, o);
    t.teardown(() => lab.close());
    return lab;
  };
  return { peers, withLab };
}

/** Write a known_hosts file with exactly that one line. */
export function writeKnownHosts(path: string, address: string, port: number, hostKeyPem: string): void {
  writeFileSync(path, knownHostsLine(address, port, hostKeyPem));
}

/** ssh children started per target (by known_hosts file), so a teardown can stop any left running, by PID. */
const trackedChildren = new Map<string, Set<ChildProcess>>();

/** SIGKILL every ssh client still running for `target` (each by its own PID). */
export function killSshClients(target: SshTarget): void {
  for (const c of trackedChildren.get(target.knownHosts) ?? [])
    if (c.exitCode === null && c.pid) c.kill('SIGKILL');
  trackedChildren.delete(target.knownHosts);
}

export interface SshOptions {
  user?: string;
  password?: string;
  /** -tt: ask for a pty. */
  tty?: boolean;
  /** Exec form: run this command instead of a shell. */
  command?: string;
  input?: string | Buffer;
  timeoutMs?: number;
  /** More -o options, e.g. SetEnv=LANG=C. */
  options?: string[];
  /** ssh -b: the local (source) address, e.g. another 127.0.0.x. */
  bindAddress?: string;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The ssh command line: OpenSSH through sshpass, checking the host key against the target's known_hosts. */
function sshArgs(target: SshTarget, o: SshOptions): string[] {
  return [
    '-p',
    o.password ?? TEST_PASSWORD,
    'ssh',
    ...(o.tty ? ['-tt'] : []),
    ...(o.bindAddress ? ['-b', o.bindAddress] : []),
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${target.knownHosts}`,
    '-o',
    'PubkeyAuthentication=no',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'ConnectTimeout=10',
    ...(o.options ?? []).flatMap((x) => ['-o', x]),
    '-p',
    String(target.sshPort),
    `${o.user ?? 'admin'}@${target.address}`,
    ...(o.command !== undefined ? [o.command] : []),
  ];
}

/** Start ssh; the caller writes to stdin and reads stdout. */
export function spawnSsh(target: SshTarget, o: SshOptions = {}): ChildProcess {
  const child = spawn('sshpass', sshArgs(target, o), { stdio: ['pipe', 'pipe', 'pipe'] });
  let set = trackedChildren.get(target.knownHosts);
  if (!set) trackedChildren.set(target.knownHosts, (set = new Set()));
  const tracked = set;
  tracked.add(child);
  child.once('exit', () => tracked.delete(child));
  return child;
}

/** Run ssh to the end with `input` on stdin (then EOF). */
export function runSsh(target: SshTarget, o: SshOptions = {}): Promise<RunResult> {
  const child = spawnSsh(target, o);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(o.input ?? '');
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 20_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Run `command` over the exec channel until its output matches `done`
 * (every 100 ms, for at most `timeoutMs`); resolves the last output. For a
 * user polling `show crypto acme client info` after an ACME command.
 */
export async function pollSsh(
  target: SshTarget,
  command: string,
  done: RegExp,
  timeoutMs = 30_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await runSsh(target, { command, timeoutMs: 10_000 });
    if (done.test(r.stdout) || Date.now() > deadline) return r.stdout;
    await sleep(100);
  }
}

// ------------------------------------------------------------------ reading output

/** Output that keeps arriving; wait for a pattern. */
export class Reader {
  data = '';
  private mark = 0;
  private waiters: (() => void)[] = [];

  push(s: string): void {
    this.data += s;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Wait until the output after the last match contains `pattern`; returns that output and moves past it. */
  async until(pattern: string | RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = this.data.slice(this.mark);
      const m =
        typeof pattern === 'string'
          ? rest.includes(pattern)
            ? { index: rest.indexOf(pattern), len: pattern.length }
            : undefined
          : ((r) => (r ? { index: r.index, len: r[0].length } : undefined))(pattern.exec(rest));
      if (m) {
        const out = rest.slice(0, m.index + m.len);
        this.mark += m.index + m.len;
        return out;
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out waiting for ${String(pattern)}; got: ${JSON.stringify(rest.slice(-500))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}

/** Any CLI prompt at the end of the output so far. */
export const PROMPT = /(?:^|\n)[\w.-]+ (?:>|#|\(config\) #) $/;

/** A raw TCP client of the CLI. */
export class TcpClient {
  readonly out = new Reader();
  readonly closed: Promise<void>;

  private constructor(readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.out.push(d));
    sock.on('error', () => undefined);
    this.closed = new Promise((r) => sock.once('close', () => r()));
  }

  /** `localAddress`: the source address (default: the kernel's choice, 127.0.0.1 on the loopback). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port, ...(localAddress ? { localAddress } : {}) }, () =>
        resolve(new TcpClient(s)),
      );
      s.once('error', reject);
    });
  }

  /** Connect and log in; resolves after the first prompt. */
  static async login(
    port: number,
    user = 'admin',
    password = TEST_PASSWORD,
    host = '127.0.0.1',
    localAddress?: string,
  ): Promise<TcpClient> {
    const c = await TcpClient.connect(port, host, localAddress);
    await c.out.until('login: ');
    c.send(user + '\n');
    await c.out.until('Password: ');
    c.send(password + '\n');
    await c.out.until(PROMPT);
    return c;
  }

  send(s: string | Buffer): void {
    if (!this.sock.destroyed) this.sock.write(s);
  }

  /** Send a line and return the output up to the next prompt. */
  async cmd(line: string, promptEnd: RegExp = PROMPT): Promise<string> {
    this.send(line + '\n');
    return this.out.until(promptEnd);
  }

  end(): void {
    this.sock.end();
  }

  destroy(): void {
    this.sock.destroy();
  }
}

// ------------------------------------------------------------------ scripted sessions

/** One line of a scripted session and what its output must contain (in order with the others). */
export interface Step {
  line: string;
  expect?: string | RegExp;
  /**
   * Send this line again, one at a time, until the request it shows has
   * finished (`show crypto acme client info` after an ACME command: the
   * real agent answers at once and works on). The step before it must have
   * an `expect` that covers its whole status block.
   */
  poll?: true;
}

/** A session the script driver talks to: its output, a way to type, and the end of input. */
export interface Conversation {
  out: Reader;
  send(text: string): void;
  /** No more input: end it and wait until the session is over. */
  end(): Promise<void>;
}

export interface ScriptRun {
  output: string;
  /** Why the driver stopped early (an expectation before a poll never came, a request never finished). */
  error?: string;
}

/** A `show crypto acme client info` polled until the request has finished; `expect` is the finished answer. */
function pollAcme(expect: RegExp, line = 'show crypto acme client info'): Step {
  return { line, expect, poll: true };
}

/** The status line of `show crypto acme client info`. */
const REQUEST_STATUS = /Request-Status +: ([^\n]*)\n/;

/**
 * Type a script the way a user pastes it: every line up to the next poll
 * step in one write (type-ahead), then, once that part has answered, each
 * poll line every 50 ms until the ACME request is no longer In Progress.
 * The lines after the last poll step go in one write, then the input ends.
 * Check the whole output with checkTranscript afterwards.
 */
export async function runScriptSteps(
  c: Conversation,
  steps: readonly Step[],
  pollTimeoutMs = 30_000,
): Promise<ScriptRun> {
  let batch: Step[] = [];
  let error: string | undefined;
  const send = (b: readonly Step[]) => {
    if (b.length > 0) c.send(b.map((s) => s.line).join('\n') + '\n');
  };
  try {
    for (const s of steps) {
      if (!s.poll) {
        batch.push(s);
        continue;
      }
      send(batch);
      // Waiting for each expectation moves the reader past this part's answers, so the poll
      // below reads only its own status lines.
      for (const b of batch) if (b.expect !== undefined) await c.out.until(b.expect);
      batch = [];
      const deadline = Date.now() + pollTimeoutMs;
      for (;;) {
        c.send(s.line + '\n');
        const status = REQUEST_STATUS.exec(await c.out.until(REQUEST_STATUS))![1]!;
        if (status !== 'In Progress') break;
        if (Date.now() > deadline)
          throw new Error(`"${s.line}": still In Progress after ${pollTimeoutMs} ms`);
        await sleep(50);
      }
    }
    send(batch);
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  await c.end();
  return { output: c.out.data, ...(error ? { error } : {}) };
}

/** An OpenSSH shell session (no pty) as a Conversation; `result` has the exit code once it is over. */
export function sshConversation(
  target: SshTarget,
  o: SshOptions = {},
): Conversation & { result(): RunResult } {
  const child = spawnSsh(target, o);
  const out = new Reader();
  let stderr = '';
  let code: number | null = null;
  child.stdout!.on('data', (d: Buffer) => out.push(d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  child.stdin!.on('error', () => undefined);
  const closed = new Promise<void>((r) =>
    child.once('close', (c) => {
      code = c;
      r();
    }),
  );
  return {
    out,
    send: (text) => void child.stdin!.write(text),
    end: async () => {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 20_000);
      await closed;
      clearTimeout(timer);
    },
    result: () => ({ code, stdout: out.data, stderr }),
  };
}

/**
 * A logged-in raw TCP session as a Conversation; end() half-closes and waits
 * for the box to close. Its reader starts at the first byte (login included),
 * not where the login left c.out.
 */
export function tcpConversation(c: TcpClient): Conversation {
  const out = new Reader();
  out.push(c.out.data);
  c.sock.on('data', (d: string) => out.push(d));
  return {
    out,
    send: (text) => c.send(text),
    end: async () => {
      c.end();
      await c.closed;
    },
  };
}

/** Check that `output` has every step's expectation, in the order of the steps. Returns the failures. */
export function checkTranscript(output: string, steps: readonly Step[]): string[] {
  const failures: string[] = [];
  let at = 0;
  for (const s of steps) {
    if (s.expect === undefined) continue;
    const rest = output.slice(at);
    const m =
      typeof s.expect === 'string'
        ? rest.includes(s.expect)
          ? { i: rest.indexOf(s.expect), n: s.expect.length }
          : undefined
        : ((r) => (r ? { i: r.index, n: r[0].length } : undefined))(s.expect.exec(rest));
    if (!m) {
      failures.push(`"${s.line.slice(0, 60)}": expected ${String(s.expect)}`);
      continue;
    }
    at += m.i + m.n;
  }
  return failures;
}

/** A certificate and key for the scripts, each as a PEM spanning lines. */
export interface TestPems {
  cert: string;
  key: string;
}

/** A fresh e2e-ca: a self-signed P-256 certificate and its key. */
export async function testPems(): Promise<TestPems> {
  const k = await generateKeyPair('prime256v1');
  const cert = await createSelfSigned({
    privateKeyPem: k.privateKeyPem,
    keyAlgorithm: 'prime256v1',
    commonName: 'e2e-ca',
    altNames: ['e2e-ca'],
    notBeforeMs: Date.now(),
    validDays: 30,
  });
  return { cert, key: k.privateKeyPem };
}

/** The lines of `steps` as one input, each ended by LF. */
export const scriptOf = (steps: readonly Step[]): string => steps.map((s) => s.line).join('\n') + '\n';

/** What the scripts need from the file's peers. */
export interface ScriptEnv {
  /** e2e-ca: a self-signed certificate and its key. */
  pems: TestPems;
  /** Pebble's directory URL. */
  directoryUrl: string;
  /** challtestsrv, "ip:port", for `ip name-server`. */
  nameServer: string;
  /** Pebble's listener CA (its TLS) and issuing root (the chain it issues): the box trusts both. */
  listenerCaPem: string;
  rootPem: string;
  /** The snmptrapd port the SNMP hosts point at (127.0.0.1). */
  trapdPort: number;
}

/** The ScriptEnv of a file's peers. */
export function scriptEnv(peers: CliPeers, pems: TestPems): ScriptEnv {
  return {
    pems,
    directoryUrl: peers.pebble.directoryUrl,
    nameServer: peers.pebble.dnsServer,
    listenerCaPem: peers.pebble.listenerCaPem,
    rootPem: peers.rootPem,
    trapdPort: peers.trapd.port,
  };
}

/**
 * After happyScript's `steps` ran on `lab` (over SSH or TCP) and printed
 * `output`: every step answered as expected with LF line ends, the hostname
 * it set holds and no secret it typed comes back; then what it did, seen
 * from outside. The box's issued certificate names E2E_DOMAIN from Pebble with the
 * script's settings, HTTPS serves it and it verifies against Pebble's root,
 * and snmptrapd got the test inform (v3) and trap (v2c). Resolves with the
 * issued certificate's facts for the lifecycle checks that follow.
 */
export async function checkHappyOutcome(
  t: Test,
  lab: CliLab,
  env: ScriptEnv,
  run: { steps: Step[]; output: string },
): Promise<{ serial: string }> {
  t.notMatch(run.output, /\r/, 'no pty: LF only');
  t.same(checkTranscript(run.output, run.steps), [], 'every step answered as expected');
  t.equal(lab.box().hostname, 'e2e-box');
  t.notMatch(run.output, /authpass1|privpass1|e2e-community|op pass 1|PRIVATE KEY/, 'no secret comes back');
  const issued = lab.box().acmeState().issued!;
  t.match(issued, {
    domain: E2E_DOMAIN,
    directoryUrl: env.directoryUrl,
    keyAlgorithm: 'prime256v1',
    renewDays: 30,
  });
  const served = await servedCertificate(lab.address, lab.httpsPort);
  t.equal(served.serial, issued.serial, 'HTTPS serves the issued certificate');
  t.match(
    await opensslVerify(served.chainPem, lab.peers.rootPem, E2E_DOMAIN),
    /: OK$/,
    "it verifies against Pebble's root",
  );
  const rx = lab.peers.trapd;
  t.ok(
    await rx.waitFor((n) => n.name === 'gvosSimTest' && n.pdu === 'INFORM' && n.user === TRAP_USER.name),
    'snmptrapd got the test inform',
  );
  t.ok(
    await rx.waitFor((n) => n.name === 'gvosSimTest' && n.pdu === 'TRAP2' && n.community === TRAP_COMMUNITY),
    'snmptrapd got the test trap',
  );
  return issued;
}

const STATUS_HINT = 'Check status using "show crypto acme client info box-id 1".';
const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * The happy path of every command, as one scripted session without a pty
 * (shared by the SSH and TCP tests). Starts in standard mode on box 1 of a
 * fresh lab; issues a certificate for E2E_DOMAIN from Pebble and polls until
 * it is installed; sends a test notification to snmptrapd (an inform and a
 * trap); ends logged out.
 */
export function happyScript(env: ScriptEnv): Step[] {
  const p = env.pems;
  const port = env.trapdPort;
  return [
    { line: 'show version', expect: /box1 > \nProduct name: +GigaVUE-OS\nProduct release: +6\.5\.00\n/ },
    {
      line: 'sh chassis',
      expect:
        /Box ID +: 1\*\n +Hostname +: box1\n[\s\S]*Oper Status +: up\n +HW Type +: HC2-Chassis\n[\s\S]*Box ID +: 2\n +Hostname +: box2\n/,
    },
    { line: 'show crypto acme client info', expect: 'No ACME issued certificate.' },
    { line: 'show snmp', expect: /SNMP enabled: +no/ },
    { line: 'enable', expect: '\nbox1 # ' },
    { line: 'show running-config', expect: '## Running configuration of box-id 1 (box1)' },
    { line: 'conf t', expect: '\nbox1 (config) # ' },
    { line: 'hostname e2e-box', expect: '\ne2e-box (config) # ' },
    { line: `ip name-server ${env.nameServer}` },
    { line: 'ip domain-list lab.test' },
    { line: 'username e2e-op password "op pass 1"' },
    { line: 'username e2e-op capability operator' },
    { line: `crypto certificate name e2e-ca public-cert pem "${p.cert.trim()}"` },
    { line: `crypto certificate name e2e-ca private-key pem "${p.key.trim()}"` },
    { line: 'crypto certificate ca-list default-ca-list name e2e-ca' },
    {
      line: 'show crypto certificate name e2e-ca',
      expect: /Certificate with name 'e2e-ca'\n(?: {2}.*\n)*? {2}Private key: +present \(never shown\)/,
    },
    { line: 'show crypto certificate ca-list', expect: /Default CA list:\n.*\n.*\n {2}e2e-ca / },
    { line: 'web https certificate name e2e-ca' },
    { line: 'show web', expect: /Web HTTPS certificate: +e2e-ca/ },
    { line: 'web https certificate default-cert' },
    // Pebble's CAs, as a user pastes them: its listener CA (the box talks TLS to it) and its
    // issuing root (the box checks the chain it gets against the CA list).
    { line: `crypto certificate name pebble-ca public-cert pem "${env.listenerCaPem.trim()}"` },
    { line: 'crypto certificate ca-list default-ca-list name pebble-ca' },
    { line: `crypto certificate name pebble-root public-cert pem "${env.rootPem.trim()}"` },
    { line: 'crypto certificate ca-list default-ca-list name pebble-root' },
    {
      line: `crypto certificate acme issue domain ${E2E_DOMAIN} acme-server ${env.directoryUrl} key-algorithm ec-prime256v1 renew-days 30`,
      expect: `Issuance in progress. ${STATUS_HINT}`,
    },
    {
      line: 'show crypto acme client info',
      expect: /Request-Status +: In Progress\n {2}Type of Request +: Issue/,
    },
    pollAcme(
      new RegExp(
        `https:\\n {2}Domain +: ${re(E2E_DOMAIN)}\\n {2}Cert Name +: acme-https\\.crt\\n {2}Acme-Server +: ${re(env.directoryUrl)}\\n[\\s\\S]*? {2}Renewal Days +: 30\\n[\\s\\S]*?Request-Status +: Success\\n {2}Type of Request +: Issue`,
      ),
    ),
    { line: 'show web', expect: /Web HTTPS certificate: +acme-https\.crt/ },
    {
      line: 'crypto certificate acme issue box-id 2 csr',
      expect: '% Issuing from a CSR is not supported; the box generates its own key.',
    },
    { line: 'snmp-server enable' },
    { line: 'snmp-server enable notify' },
    {
      line: `snmp-server user ${TRAP_USER.name} v3 auth sha256 ${TRAP_USER.authPass} priv aes-128 ${TRAP_USER.privPass}`,
    },
    { line: `snmp-server host 127.0.0.1 port ${port} informs version 3 user ${TRAP_USER.name}` },
    { line: `snmp-server host 127.0.0.1 port ${port} traps version 2c ${TRAP_COMMUNITY} rate 20` },
    { line: 'no snmp-server notify event cold-start' },
    { line: 'snmp-server notify event cold-start' },
    {
      line: 'snmp-server notify send-test',
      expect: 'Test notification sent to 2 hosts; see "show snmp host" for the counters.',
    },
    // snmptrapd answered the inform (acknowledged 1, nothing retried) and got the trap.
    {
      line: 'show snmp host',
      expect: new RegExp(
        // The Source column (issue 12): notifications leave from the box's own address.
        `127\\.0\\.0\\.1 +${port} +127\\.0\\.0\\.\\d+ +informs +3 +user e2e-u +100 +1 +1 +0 +0 +0 *\\n *` +
          `127\\.0\\.0\\.1 +${port} +127\\.0\\.0\\.\\d+ +traps +2c +\\*{8} +20 +1 +0 +0 +0 +0`,
      ),
    },
    {
      line: 'show snmp engineID',
      expect: /createUser -e 0x[0-9a-f]+ e2e-u SHA-256 <auth-passphrase> AES <priv-passphrase>/,
    },
    {
      line: 'show running-config',
      expect: new RegExp(`snmp-server host 127\\.0\\.0\\.1 port ${port} traps version 2c \\*{8} rate 20`),
    },
    {
      line: 'image fetch image-gvos-5.13.01.img',
      expect: 'Fetched image-gvos-5.13.01.img (version 5.13.01).',
    },
    {
      line: 'image install image-gvos-5.13.01.img',
      expect: 'Installed image-gvos-5.13.01.img (version 5.13.01).',
    },
    { line: 'image boot next', expect: 'Next boot: version 5.13.01 (image-gvos-5.13.01.img).' },
    { line: 'show images', expect: /Next boot: +5\.13\.01/ },
    { line: 'crypto mode fips', expect: 'Crypto mode fips takes effect after "write memory" and "reload"' },
    { line: 'cli session terminal type dumb' },
    { line: 'no cli session paging enable' },
    { line: 'write memory' },
    { line: 'end', expect: '\ne2e-box # ' },
    { line: 'reload box-id 2', expect: 'Rebooting box-id 2 (box2)...' },
    { line: 'exit', expect: '\ne2e-box > ' },
    { line: 'exit' },
  ];
}

/** A manual renewal of the certificate happyScript issued, polled until it succeeds. Ends in config mode. */
export function acmeLifecycleScript(): Step[] {
  return [
    { line: 'enable' },
    { line: 'configure terminal' },
    {
      line: 'show crypto acme client info',
      expect: new RegExp(`https:\\n {2}Domain +: ${re(E2E_DOMAIN)}\\n {2}Cert Name +: acme-https\\.crt`),
    },
    {
      line: `crypto certificate acme renew domain ${E2E_DOMAIN}`,
      expect: `Renewal in progress. ${STATUS_HINT}`,
    },
    {
      line: 'show crypto acme client info box-id 1',
      expect: /Request-Status +: In Progress\n {2}Type of Request +: Renew/,
    },
    pollAcme(
      /Last Succesful Renewal +: \d{4}\/[\s\S]*?Request-Status +: Success\n {2}Type of Request +: Renew/,
      'show crypto acme client info box-id 1',
    ),
  ];
}

/** Revoke (key compromise) and clear, in config mode after acmeLifecycleScript; ends logged out. */
export function revokeAndClearScript(): Step[] {
  return [
    {
      line: `crypto certificate acme revoke domain ${E2E_DOMAIN} key-compromise`,
      expect: `Revocation in progress. ${STATUS_HINT}`,
    },
    pollAcme(/Request-Status +: Success\n {2}Type of Request +: Revoke/),
    {
      line: 'crypto certificate acme clear box-id 1',
      expect: 'ACME certificate cleared on box-id 1; the web server uses the default certificate.',
    },
    {
      line: 'show crypto acme client info',
      expect: /No ACME issued certificate\.\n[\s\S]*?Request-Status +: Success\n {2}Type of Request +: Clear/,
    },
    { line: 'show web', expect: /Web HTTPS certificate: +default-cert/ },
    { line: 'end' },
    { line: 'exit' },
    { line: 'exit' },
  ];
}

/**
 * One error of each command group, with its message; the ACME ones against
 * the real Pebble (not trusted yet, then not reachable). Runs in config
 * mode; ends logged out.
 */
export function errorScript(env: Pick<ScriptEnv, 'directoryUrl' | 'nameServer'>): Step[] {
  return [
    { line: 'foo', expect: '% Unrecognized command "foo".\nType "?" for help.' },
    { line: 'show', expect: '% Incomplete command.' },
    { line: 'enable' },
    { line: 'configure terminal' },
    { line: 's', expect: '% Ambiguous command "s".' },
    { line: 'hostname -x', expect: '% Invalid hostname "-x"' },
    { line: 'no ip name-server 1.1.1.1', expect: '% Name server "1.1.1.1" is not configured.' },
    { line: 'username ghost capability admin', expect: '% User "ghost" does not exist' },
    { line: 'crypto certificate name bad public-cert pem "garbage"', expect: /% [^\n]*PEM/ },
    {
      line: 'crypto certificate name bad public-cert pem garbage',
      expect: '% Give the pem in double quotes',
    },
    { line: 'web https certificate name nope', expect: '% Certificate "nope" not found.' },
    {
      line: `crypto certificate acme issue domain a.lab.test acme-server ${env.directoryUrl}`,
      expect: '% No name server configured;',
    },
    { line: `ip name-server ${env.nameServer}` },
    {
      line: `crypto certificate acme issue domain a.lab.test acme-server ${env.directoryUrl}`,
      expect: "% The ACME server's TLS certificate is not trusted by the CA list",
    },
    {
      // Port 1 of the loopback: nothing listens, the connection is refused.
      line: 'crypto certificate acme issue domain a.lab.test acme-server https://127.0.0.1:1/dir',
      expect: '% Cannot reach the ACME server https://127.0.0.1:1/dir',
    },
    {
      line: 'crypto certificate acme renew domain x.lab.test',
      expect: '% No ACME issued certificate to renew; issue one first.',
    },
    {
      line: 'snmp-server host 10.0.0.1 informs version 1 pub',
      expect: '% SNMPv1 has no informs; use version 2c or 3.',
    },
    {
      line: 'snmp-server user u v3 auth sha short',
      expect: '% SNMPv3 passphrases must have 8 to 64 characters.',
    },
    { line: 'image install nothing.img', expect: '% Image "nothing.img" has not been fetched' },
    { line: 'show chassis box-id 9', expect: '% No box with box-id 9 in the cluster (box-ids: 1, 2).' },
    {
      line: 'cli session terminal length 5000',
      expect: '% Invalid lines "5000": give a whole number from 0 to 999.',
    },
    { line: 'end' },
    { line: 'exit' },
    { line: 'exit' },
  ];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
