/**
 * Helpers of the CLI end-to-end tests: an in-process lab (boxes from
 * makeTestBox, fake ACME and SNMP ports, the real SSH and TCP servers on
 * 127.0.0.1 port 0), the real OpenSSH client through sshpass, and a raw TCP
 * client. Every process and server a test starts is stopped by lab.close().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { Box } from '../../src/device/box.js';
import type { Cluster } from '../../src/device/cluster.js';
import { FakeAcme, FakeSnmp } from '../../src/cli/test-helpers.js';
import { SshCliServer } from '../../src/cli/transports/ssh.js';
import { TcpCliServer } from '../../src/cli/transports/tcp.js';
import { silentLogger } from '../../src/lib/logger.js';
import { SystemClock } from '../../src/lib/clock.js';
import { makeTestBox, TEST_PASSWORD } from '../harness/boxes.js';

export { TEST_PASSWORD };

export interface CliLab {
  cluster: Cluster;
  /** Box 1, looked up now. */
  box(): Box;
  acme: FakeAcme;
  snmp: FakeSnmp;
  ssh: SshCliServer;
  tcp: TcpCliServer;
  sshPort: number;
  tcpPort: number;
  /** A known_hosts file with the [127.0.0.1]:port line of box 1's host key. */
  knownHosts: string;
  dir: string;
  close(): Promise<void>;
}

/** Two boxes in one cluster; box 1 serves the CLI over SSH and TCP. */
export async function startLab(o: { maxSessions?: number } = {}): Promise<CliLab> {
  const clock = new SystemClock();
  const { cluster } = await makeTestBox({ boxId: 1, clock });
  await makeTestBox({ boxId: 2, clock, cluster });
  const box = () => cluster.get(1);
  const acme = new FakeAcme(box);
  const snmp = new FakeSnmp(box);
  box().attachAcme(acme);
  box().attachSnmp(snmp);
  cluster.get(2).attachAcme(new FakeAcme(() => cluster.get(2)));
  const common = {
    address: '127.0.0.1',
    port: 0,
    cluster,
    boxId: 1,
    logger: silentLogger,
    ...(o.maxSessions ? { maxSessions: o.maxSessions } : {}),
  };
  const ssh = new SshCliServer({ ...common, hostKeyPem: box().sshHostKey });
  const tcp = new TcpCliServer(common);
  const sshPort = await ssh.listen();
  const tcpPort = await tcp.listen();
  const dir = mkdtempSync(join(tmpdir(), 'gvos-cli-'));
  const parsed = ssh2.utils.parseKey(box().sshHostKey);
  if (parsed instanceof Error) throw parsed;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${sshPort} ${key.type} ${key.getPublicSSH().toString('base64')}\n`);
  const children = new Set<ChildProcess>();
  trackedChildren.set(knownHosts, children);
  return {
    cluster,
    box,
    acme,
    snmp,
    ssh,
    tcp,
    sshPort,
    tcpPort,
    knownHosts,
    dir,
    close: async () => {
      for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
      await Promise.all([ssh.close(), tcp.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Children started per lab, so close() can stop any left running (by their own pid). */
const trackedChildren = new Map<string, Set<ChildProcess>>();

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
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The ssh command line: OpenSSH through sshpass, checking the host key against the lab's known_hosts. */
export function sshArgs(lab: CliLab, o: SshOptions): string[] {
  return [
    '-p',
    o.password ?? TEST_PASSWORD,
    'ssh',
    ...(o.tty ? ['-tt'] : []),
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${lab.knownHosts}`,
    '-o',
    'PubkeyAuthentication=no',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'ConnectTimeout=10',
    ...(o.options ?? []).flatMap((x) => ['-o', x]),
    '-p',
    String(lab.sshPort),
    `${o.user ?? 'admin'}@127.0.0.1`,
    ...(o.command !== undefined ? [o.command] : []),
  ];
}

/** Start ssh; the caller writes to stdin and reads stdout. */
export function spawnSsh(lab: CliLab, o: SshOptions = {}): ChildProcess {
  const child = spawn('sshpass', sshArgs(lab, o), { stdio: ['pipe', 'pipe', 'pipe'] });
  const set = trackedChildren.get(lab.knownHosts);
  set?.add(child);
  child.once('exit', () => set?.delete(child));
  return child;
}

/** Run ssh to the end with `input` on stdin (then EOF). */
export function runSsh(lab: CliLab, o: SshOptions = {}): Promise<RunResult> {
  const child = spawnSsh(lab, o);
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

  static connect(port: number): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new TcpClient(s)));
      s.once('error', reject);
    });
  }

  /** Connect and log in; resolves after the first prompt. */
  static async login(port: number, user = 'admin', password = TEST_PASSWORD): Promise<TcpClient> {
    const c = await TcpClient.connect(port);
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

/** One line of a scripted session and what its output must contain (in order with the others). */
export interface Step {
  line: string;
  expect?: string | RegExp;
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

/**
 * The happy path of every command, as one scripted session without a pty
 * (shared by the SSH and TCP tests). Starts in standard mode on box 1 of a
 * fresh lab; ends logged out.
 */
export function happyScript(p: TestPems): Step[] {
  const issueHint = 'Check status using "show crypto acme client info box-id 1".';
  return [
    { line: 'show version', expect: /box1 > \nProduct name: +GigaVUE-OS\nProduct release: +6\.5\.00\n/ },
    { line: 'sh chassis', expect: /\n1\* +box1 +HC2 [^\n]+up\n2 +box2 / },
    { line: 'show crypto acme client info', expect: 'No ACME issued certificate.' },
    { line: 'show snmp', expect: /SNMP enabled: +no/ },
    { line: 'enable', expect: '\nbox1 # ' },
    { line: 'show running-config', expect: '## Running configuration of box-id 1 (box1)' },
    { line: 'conf t', expect: '\nbox1 (config) # ' },
    { line: 'hostname e2e-box', expect: '\ne2e-box (config) # ' },
    { line: 'ip name-server 10.0.0.53' },
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
    {
      line: 'crypto certificate acme issue domain e2e.lab.test acme-server https://ca.lab.test/dir key-algorithm ec-prime256v1 renew-days 30',
      expect: `Issuance in progress. ${issueHint}`,
    },
    {
      line: 'show crypto acme client info',
      expect: /Request-Status +: In Progress\n {2}Type of Request +: Issue/,
    },
    {
      line: 'crypto certificate acme issue box-id 2 csr',
      expect: '% Issuing from a CSR is not supported; the box generates its own key.',
    },
    { line: 'snmp-server enable' },
    { line: 'snmp-server enable notify' },
    { line: 'snmp-server user e2e-u v3 auth sha256 authpass1 priv aes-128 privpass1' },
    { line: 'snmp-server host 127.0.0.1 port 1162 informs version 3 user e2e-u' },
    { line: 'snmp-server host 127.0.0.1 traps version 2c e2e-community rate 20' },
    { line: 'no snmp-server notify event cold-start' },
    { line: 'snmp-server notify event cold-start' },
    {
      line: 'snmp-server notify send-test',
      expect: 'Test notification sent to 2 hosts; see "show snmp host" for the counters.',
    },
    { line: 'show snmp host', expect: /127\.0\.0\.1 +1162 +informs +3 +user e2e-u +100 +10 +9 +2 +1 +0/ },
    {
      line: 'show snmp engineID',
      expect: /createUser -e 0x[0-9a-f]+ e2e-u SHA-256 <auth-passphrase> AES <priv-passphrase>/,
    },
    { line: 'show running-config', expect: /snmp-server host 127\.0\.0\.1 traps version 2c \*{8} rate 20/ },
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

/** Renew, revoke and clear, once an ACME certificate is issued (domain e2e.lab.test). */
export function acmeLifecycleScript(): Step[] {
  const hint = 'Check status using "show crypto acme client info box-id 1".';
  return [
    { line: 'enable' },
    { line: 'configure terminal' },
    {
      line: 'show crypto acme client info',
      expect: /https:\n {2}Domain +: e2e\.lab\.test\n {2}Cert Name +: acme-https\.crt/,
    },
    { line: 'crypto certificate acme renew domain e2e.lab.test', expect: `Renewal in progress. ${hint}` },
    { line: 'show crypto acme client info box-id 1', expect: /Type of Request +: Renew/ },
  ];
}

/** One error of each command group, with its message. Runs in config mode; ends logged out. */
export function errorScript(): Step[] {
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
      line: 'crypto certificate acme issue domain a.lab.test acme-server https://ca/dir',
      expect: '% No name server configured;',
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
