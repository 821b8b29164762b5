// Issue 14: `lab down` hung 61 s and ended in SIGKILL after a raw-TCP login had been refused by
// the lockout. A live `lab up` of two boxes: box 1 locks this source out after wrong passwords over
// raw TCP, then refuses OpenSSH even with the right password; box 2 refuses a wrong SSH password.
// With a refused TCP client that never closes, an OpenSSH client waiting at its password prompt and a
// TCP client idle at `login:` still connected, `lab down` returns promptly (the figure is printed;
// the user-visible requirement is 2 s), `lab up` exits 0 on its own, and no process or port of the
// lab is left.
import t from 'tap';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canListen } from '../../src/lib/net.js';
import { pidAlive } from '../../src/lab/lab-state.js';
import type { LabStateFile } from '../../src/lab/lab.js';
import { TcpClient, writeKnownHosts } from './cli-helpers.js';
import { ensureBuilt, labSkipReason, runLabCli, startTopologyLab } from './lab-harness.js';

// Its own address block (127.0.16.x), apart from users' labs and other suites.
const BASE = '127.0.16';
const PASSWORD = 'Adm1n-lab-down';
const skip = await labSkipReason([`${BASE}.1`, `${BASE}.2`]);

/** OpenSSH (no sshpass: the password comes from SSH_ASKPASS), host key checked against `knownHosts`. */
function openssh(address: string, knownHosts: string, askpass: string): ChildProcess {
  return spawn(
    'ssh',
    [
      ...['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`],
      ...['-o', 'PubkeyAuthentication=no', '-o', 'NumberOfPasswordPrompts=1', '-o', 'ConnectTimeout=10'],
      // INFO, not ERROR: OpenSSH shows the server's banner (where the lockout is said) only from INFO up.
      ...['-o', 'LogLevel=INFO', `admin@${address}`, 'show version'],
    ],
    {
      env: { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

/** Run an OpenSSH client to its end: exit code and stderr. */
function runOpenssh(
  address: string,
  knownHosts: string,
  askpass: string,
): Promise<{ code: number | null; err: string }> {
  const p = openssh(address, knownHosts, askpass);
  let err = '';
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  p.stdout!.resume();
  const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    p.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, err });
    }),
  );
}

/** An askpass program that answers `password`, or (null) waits until its ssh is gone. */
function askpass(dir: string, name: string, password: string | null): string {
  const path = join(dir, name);
  const body =
    password === null
      ? // Never answers: ssh sits at its password prompt, connected, until it is ended.
        'while kill -0 "$PPID" 2>/dev/null; do sleep 0.2; done\nexit 1\n'
      : `printf '%s\\n' '${password}'\n`;
  writeFileSync(path, `#!/bin/sh\n${body}`);
  chmodSync(path, 0o700);
  return path;
}

t.test('lab down after refused TCP and SSH logins', { skip }, async (t) => {
  ensureBuilt();
  const { lab, labs } = await startTopologyLab(t, 'gvos-lab-down-', [
    'lab: e2e-down',
    `admin-password: ${PASSWORD}`,
    'boxes: 2',
    'network:',
    `  address-base: ${BASE}.0`,
    '  address-offset: 0',
  ]);
  t.match(lab.stdout(), /lab e2e-down is up: 2 boxes/, 'the lab is up');
  const labDir = join(labs, 'e2e-down');
  const state = JSON.parse(readFileSync(join(labDir, 'lab.json'), 'utf8')) as LabStateFile;
  // Each box's host key, as a user would have accepted it: OpenSSH checks it (StrictHostKeyChecking=yes).
  const knownHosts = (id: number): string => {
    const file = join(labs, `known_hosts.${id}`);
    const doc = JSON.parse(readFileSync(join(labDir, `box-${id}`, 'state.json'), 'utf8')) as {
      sshHostKey: string;
    };
    writeKnownHosts(file, `${BASE}.${id}`, 22, doc.sshHostKey);
    // OpenSSH names a host on port 22 without the [address]:port form.
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^\[([^\]]+)\]:22 /, '$1 '));
    return file;
  };
  const clients: ChildProcess[] = [];
  const tcp: TcpClient[] = [];
  t.teardown(() => {
    for (const c of clients) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const c of tcp) c.sock.destroy();
  });

  // Raw TCP to box 1: wrong passwords until the box locks this source out (5 by default).
  let said = '';
  for (let attempt = 0; attempt < 10 && !said.includes('Too many failed logins'); attempt++) {
    const c = await TcpClient.connect(23, `${BASE}.1`);
    tcp.push(c);
    said += await c.out.until('login: ');
    c.send('admin\n');
    said += await c.out.until('Password: ');
    c.send('not-the-password\n');
    said += await c.out.until(/login: |Too many failed logins[^\n]*\n/);
    c.sock.destroy();
  }
  t.match(said, /% Login incorrect/, 'wrong passwords are refused');
  t.match(
    said,
    /Too many failed logins from 127\.0\.0\.1; try again in \d+ s\./,
    'then the source is locked out',
  );
  // A new connection is refused at once; this client never closes its side.
  const refused = await TcpClient.connect(23, `${BASE}.1`);
  tcp.push(refused);
  t.match(
    await refused.out.until(/\n/),
    /% Too many failed logins/,
    'a new TCP connection is refused by the lockout',
  );

  // OpenSSH to box 1: refused by the lockout although the password is right.
  const right = askpass(labs, 'right', PASSWORD);
  const locked = await runOpenssh(`${BASE}.1`, knownHosts(1), right);
  t.not(locked.code, 0, 'OpenSSH to the locked-out box fails');
  t.match(locked.err, /Too many failed logins/, 'OpenSSH shows the lockout (the SSH banner)');
  // OpenSSH to box 2: a wrong password.
  const wrong = await runOpenssh(`${BASE}.2`, knownHosts(2), askpass(labs, 'wrong', 'not-the-password'));
  t.not(wrong.code, 0, 'OpenSSH with a wrong password fails');
  t.match(wrong.err, /Permission denied/, 'OpenSSH says permission denied');
  t.notMatch(wrong.err, /Too many failed logins/, 'box 2 did not lock this source out');

  // Still connected while the lab goes down: an OpenSSH client at its password prompt and a TCP
  // client idle at `login:` (box 2), and the refused TCP client of box 1.
  const waiting = openssh(`${BASE}.2`, knownHosts(2), askpass(labs, 'never', null));
  clients.push(waiting);
  const idle = await TcpClient.connect(23, `${BASE}.2`);
  tcp.push(idle);
  await idle.out.until('login: ');
  // The ssh client is connected (its password request is pending) before the lab goes down.
  const connected = await new Promise<boolean>((resolve) => {
    const until = Date.now() + 10_000;
    const check = (): void => {
      const out = established();
      if (out.includes(`${BASE}.2:22`)) return resolve(true);
      if (Date.now() > until) return resolve(false);
      setTimeout(check, 100);
    };
    check();
  });
  t.ok(connected, 'the waiting OpenSSH client is connected to box 2');

  // The lab's own stop, from its `stopping (lab down)` line to its exit, apart from the CLI's node start.
  let stoppingAt = 0;
  let exitedAt = 0;
  lab.proc.stdout!.on('data', (d: Buffer) => {
    if (!stoppingAt && d.toString().includes('stopping (lab down)')) stoppingAt = Date.now();
  });
  lab.proc.once('exit', () => (exitedAt = Date.now()));
  const started = Date.now();
  const down = await runLabCli(['down', '--name', 'e2e-down', '--labs-dir', labs]);
  const downMs = Date.now() - started;
  t.equal(down.code, 0, `lab down exits 0 ${down.stderr}`);
  t.match(down.stdout, /lab e2e-down is down\n/, 'lab down says the lab is down');
  t.notMatch(down.stdout, /left-over processes ended/, 'it had nothing to end by PID');
  t.equal(await lab.exited, 0, 'lab up exits 0 on its own (no SIGKILL)');
  const stopMs = exitedAt - stoppingAt;
  t.comment(
    `lab down returned in ${downMs} ms; the lab process stopped in ${stopMs} ms (the issue asks for 2 s)`,
  );
  // Clear bounds, far from the bug's 61 s and SIGKILL, above a busy 2-core machine's noise (the
  // command's own node start took up to 5 s at load 12 here; the lab's stop 0.1-0.3 s).
  t.ok(stoppingAt > 0 && stopMs < 10_000, `the lab process stopped in ${stopMs} ms, under 10 s`);
  t.ok(downMs < 30_000, `lab down returned in ${downMs} ms, under 30 s (it waits 60 s before a SIGKILL)`);

  for (const p of [{ name: 'lab', pid: state.pid }, ...state.processes])
    t.notOk(pidAlive(p.pid), `${p.name} (${p.pid}) is gone`);
  for (const id of [1, 2])
    for (const port of [22, 23, 80, 443])
      t.ok(await canListen(`${BASE}.${id}`, port), `${BASE}.${id}:${port} is free`);
  const cp = new URL(state.controlPlane.url);
  t.ok(await canListen(cp.hostname, Number(cp.port)), 'the control plane port is free');
  // The TCP clients still connected were hung up on, not left open (the OpenSSH client cannot
  // tell: it is blocked in its askpass program; it is ended at teardown).
  const hungUp = await Promise.race([
    Promise.all([refused.closed, idle.closed]).then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 10_000)),
  ]);
  t.ok(hungUp, 'the refused and the idle TCP clients were closed');
});

/** Established TCP connections now (`ss -tnH`), as text. */
function established(): string {
  return execFileSync('ss', ['-tnH', 'state', 'established'], { encoding: 'utf8' });
}
