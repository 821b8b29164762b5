/**
 * The connection lifecycle of a real box process (issue 15 #1-#3), from
 * outside, with the OpenSSH client, raw sockets and the box's own CLI:
 *
 * - pre-login slots expire: a helper process holds 200 idle sockets to the
 *   SSH port and 100 to the TCP CLI (all the slots there are) and never
 *   sends a byte; once the login deadline (`--login-timeout`, 5 s here) has
 *   passed, a real OpenSSH login (sshpass) and a TCP login get in while the
 *   helper still holds every socket open on its side;
 * - a refused client that lingers (locked out, its socket kept open) blocks
 *   neither `reload` (the listeners are back and a login works) nor SIGTERM
 *   (exit 0);
 * - many reloads in a row, with clients connecting to every port and
 *   dropping (reset, half-close, idle) during them: the process stays up and
 *   every reload comes back.
 *
 * Timing bounds here are deadlines of a wait, generous for a loaded 2-core
 * machine; without the fixes the waits never end (the box waited for the
 * client).
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { killSshClients, runSsh, TcpClient, writeKnownHosts, type SshTarget } from '../e2e/cli-helpers.js';
import type { BoxProcess } from '../harness/box-process.js';
import { PASSWORD, Rng, SEED, size, sleep, startBox } from './helpers.js';

const LOGIN_TIMEOUT_S = 5;

/** known_hosts for `b` from the host key in its state (never trusted on first use). */
function sshTarget(t: Test, b: BoxProcess): SshTarget {
  const doc = JSON.parse(readFileSync(join(b.dataDir, 'state.json'), 'utf8')) as { sshHostKey: string };
  const dir = mkdtempSync(join(tmpdir(), 'gvos-lifecycle-'));
  const target: SshTarget = {
    address: '127.0.0.1',
    sshPort: b.ready.ports.ssh,
    knownHosts: join(dir, 'known_hosts'),
  };
  writeKnownHosts(target.knownHosts, '127.0.0.1', target.sshPort, doc.sshHostKey);
  t.teardown(() => {
    killSshClients(target);
    rmSync(dir, { recursive: true, force: true });
  });
  return target;
}

/**
 * A helper process that opens `ssh` + `tcp` sockets from `from`, never
 * sends a byte and never closes its side (allowHalfOpen); it prints one
 * JSON line when every socket is connected. Stopped by PID at teardown.
 */
async function holdSockets(
  t: Test,
  o: { sshPort: number; cliPort: number; ssh: number; tcp: number; from: string },
): Promise<ChildProcess> {
  const script = `
    const net = require('node:net');
    const [sshPort, cliPort, nSsh, nTcp, from] = process.argv.slice(1);
    const held = [];
    let connected = 0;
    const want = Number(nSsh) + Number(nTcp);
    const open = (port) => {
      const s = net.connect({ host: '127.0.0.1', port: Number(port), localAddress: from, allowHalfOpen: true });
      s.on('error', () => {});
      s.on('data', () => {});
      s.once('connect', () => { if (++connected === want) console.log(JSON.stringify({ held: connected })); });
      held.push(s);
    };
    for (let i = 0; i < Number(nSsh); i++) open(sshPort);
    for (let i = 0; i < Number(nTcp); i++) open(cliPort);
    setInterval(() => {}, 1 << 30);
  `;
  const child = spawn(
    process.execPath,
    ['-e', script, String(o.sshPort), String(o.cliPort), String(o.ssh), String(o.tcp), o.from],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', () => resolve());
    child.once('exit', (code) => reject(new Error(`socket holder exited with ${code}`)));
  });
  return child;
}

/** Poll a TCP login as admin from `from` until it reaches the prompt; true if it did before `deadlineMs`. */
async function tcpLoginWorks(port: number, from: string, deadlineMs: number): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    try {
      const c = await TcpClient.login(port, 'admin', PASSWORD, '127.0.0.1', from);
      c.destroy();
      return true;
    } catch {
      await sleep(100);
    }
  }
  return false;
}

/** A raw TCP connection from `from` that keeps its side open whatever the box does. */
function linger(port: number, from: string): Promise<{ sock: Socket; said: () => string }> {
  return new Promise((resolve, reject) => {
    let said = '';
    const sock = connect({ host: '127.0.0.1', port, localAddress: from, allowHalfOpen: true }, () =>
      resolve({ sock, said: () => said }),
    );
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (said += d));
    sock.once('error', reject);
  });
}

t.test(
  'pre-login slots expire: 200 idle SSH and 100 idle TCP sockets lock nobody out past the deadline',
  async (t) => {
    const box = await startBox({ args: ['--login-timeout', String(LOGIN_TIMEOUT_S)] });
    t.teardown(() => box.kill());
    const P = box.ready.ports;
    const target = sshTarget(t, box);
    await holdSockets(t, { sshPort: P.ssh, cliPort: P.cli, ssh: 200, tcp: 100, from: '127.0.0.70' });
    const heldAt = Date.now();

    // While they are held, every slot is taken (the test would prove nothing otherwise).
    const full = await TcpClient.connect(P.cli, '127.0.0.1', '127.0.0.71');
    t.match(
      await full.out.until(/\n/),
      /^% Too many CLI sessions on box 1 \(at most 100\)/,
      'TCP: no slot while 100 idle sockets are held',
    );
    full.destroy();

    // Past the deadline (measured from the last of the held sockets), the slots are free again,
    // though the helper still holds its side of every socket.
    await sleep(Math.max(0, LOGIN_TIMEOUT_S * 1000 + 1_000 - (Date.now() - heldAt)));
    const ssh = await runSsh(target, { command: 'show version', bindAddress: '127.0.0.72' });
    t.equal(ssh.code, 0, `OpenSSH (sshpass) logs in after the deadline${ssh.code ? `: ${ssh.stderr}` : ''}`);
    t.match(ssh.stdout, /^Product name: +GigaVUE-OS\n/);
    t.ok(await tcpLoginWorks(P.cli, '127.0.0.73', 5_000), 'the TCP CLI logs in after the deadline');
    t.match(box.stderr(), /"msg":"cli login timed out"/, 'the box logs the cut connections');
  },
);

t.test('a lingering refused client blocks neither reload nor SIGTERM', async (t) => {
  const box = await startBox();
  t.teardown(() => box.kill());
  const P = box.ready.ports;
  // Lock 127.0.0.80 out: five wrong passwords over TCP.
  for (let i = 0; i < 5; i++) {
    const c = await TcpClient.connect(P.cli, '127.0.0.1', '127.0.0.80');
    await c.out.until('login: ');
    c.send(`admin\nwrong-${i}\n`);
    await c.out.until(/Login incorrect\n/);
    c.destroy();
  }
  const refused = await linger(P.cli, '127.0.0.80');
  const idleSsh = await linger(P.ssh, '127.0.0.80');
  await sleep(200);
  t.match(refused.said(), /^% Too many failed logins from 127\.0\.0\.80/, 'the lingering client was refused');

  const admin = await TcpClient.login(P.cli, 'admin', PASSWORD, '127.0.0.1', '127.0.0.81');
  await admin.cmd('enable');
  admin.send('reload\n');
  await admin.closed;
  t.ok(await tcpLoginWorks(P.cli, '127.0.0.82', 5_000), 'the listeners are back after reload (within 5 s)');
  t.equal(box.proc.exitCode, null, 'the process is up');

  const again = await linger(P.cli, '127.0.0.80');
  const again2 = await linger(P.ssh, '127.0.0.80');
  t.teardown(() => [refused, idleSsh, again, again2].forEach((l) => l.sock.destroy()));
  const code = await Promise.race([box.stop(), sleep(5_000).then(() => 'still running')]);
  t.equal(code, 0, 'SIGTERM: exit 0 (within 5 s) with refused clients still connected');
});

t.test(
  'many reloads in a row, clients connecting and dropping meanwhile: the box always comes back',
  async (t) => {
    const box = await startBox();
    t.teardown(() => box.kill());
    const P = box.ready.ports;
    const rng = new Rng(`${SEED}-reloads`);
    const reloads = size('RELOADS', 12, 100);
    let stop = false;
    let churned = 0;
    // Connections to every port that go away in every way a client can: reset, half-close, idle.
    const churn = (async () => {
      const open = new Set<Socket>();
      while (!stop) {
        const port = rng.pick([P.ssh, P.cli, P.https, P.http]);
        const s = connect({
          host: '127.0.0.1',
          port,
          localAddress: '127.0.0.90',
          allowHalfOpen: rng.chance(0.5),
        });
        s.on('error', () => undefined);
        open.add(s);
        s.once('close', () => open.delete(s));
        const how = rng.int(0, 3);
        const after = rng.int(0, 150);
        setTimeout(() => {
          if (how === 0) s.resetAndDestroy();
          else if (how === 1) s.end();
          else if (how === 2) s.end(Buffer.from('SSH-2.0-x\r\n'));
          else s.destroy();
        }, after);
        churned++;
        await sleep(rng.int(2, 20));
      }
      for (const s of open) s.destroy();
    })();
    let back = 0;
    for (let i = 0; i < reloads; i++) {
      const admin = await TcpClient.login(P.cli, 'admin', PASSWORD, '127.0.0.1', '127.0.0.91');
      await admin.cmd('enable');
      admin.send('reload\n');
      await admin.closed;
      if (await tcpLoginWorks(P.cli, '127.0.0.92', 10_000)) back++;
      if (box.proc.exitCode !== null) break;
    }
    stop = true;
    await churn;
    t.equal(
      box.proc.exitCode,
      null,
      `the process is still up after ${reloads} reloads (${churned} clients churned)`,
    );
    t.equal(back, reloads, 'every reload came back with its listeners');
    t.notMatch(box.stderr(), /reload failed/, 'no reload failed');
  },
);
