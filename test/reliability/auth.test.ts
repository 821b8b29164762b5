/**
 * Authentication, end to end against a real box process:
 *
 * - failed logins over SSH, TCP and REST count per source address, in one
 *   count shared by the three (src/lib/login-throttle.ts): 5 failures within
 *   60 s lock the source out for 60 s, even with the right password then;
 *   each transport says so (TCP: a `%` line, SSH: the banner, REST: 429 with
 *   Retry-After and code too-many-attempts);
 * - the lockout never reaches other sources: while 127.0.0.1 is locked out,
 *   admin logs in from 127.0.0.2 over all three;
 * - no empty or default password gets in, over any transport.
 *
 * (The first boot's refusal of a missing or empty admin password is in
 * test/e2e/box-process.test.ts.) Sources are loopback addresses: Linux
 * routes all of 127/8 to lo, so a client bound to 127.0.0.x is source x.
 *
 * Full run (GVOS_FULL=1) also waits out a lockout (61 s) and logs in again.
 */
import t from 'tap';
import { connect, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import { Reader, TcpClient } from '../e2e/cli-helpers.js';
import type { BoxProcess } from '../harness/box-process.js';
import { FULL, PASSWORD, rest, sleep, startBox } from './helpers.js';

const box: BoxProcess = await startBox({ args: ['--crypto-mode', 'secure-crypto'] });
t.teardown(() => box.kill());
const P = box.ready.ports;
const LOCKED = /Too many failed logins from (127\.0\.0\.\d+); try again in (\d+) s\./;

/** A raw TCP CLI connection from `from`. */
async function tcpFrom(from: string): Promise<{ out: Reader; sock: Socket; closed: Promise<void> }> {
  const out = new Reader();
  const sock = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: P.cli, localAddress: from }, () => resolve(s));
    s.once('error', reject);
  });
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => out.push(d));
  sock.on('error', () => undefined);
  return { out, sock, closed: new Promise((r) => sock.once('close', () => r())) };
}

/** Log in over TCP from `from` with `password`; resolves what the box said (through the outcome). */
async function tcpLogin(from: string, password: string): Promise<string> {
  const c = await tcpFrom(from);
  const first = await Promise.race([c.out.until('login: '), c.closed.then(() => c.out.data)]);
  if (!first.endsWith('login: ')) return c.out.data;
  c.sock.write('admin\n');
  await c.out.until('Password: ');
  c.sock.write(password + '\n');
  // After a wrong password the box either asks again (`login: `) or says why it hangs up and
  // closes: wait for one of those, not for the first line, which may come in a packet of its own.
  await Promise.race([c.out.until(/ > $|Login incorrect\nlogin: $/), c.closed]);
  c.sock.destroy();
  return c.out.data;
}

/** Log in over SSH from `from`; resolves whether it got in and the banner it was shown. */
function sshLogin(from: string, password: string): Promise<{ ok: boolean; banner: string; error?: string }> {
  return new Promise((resolve) => {
    const c = new ssh2.Client();
    let banner = '';
    c.on('banner', (m: string) => (banner += m));
    c.on('ready', () => {
      c.end();
      resolve({ ok: true, banner });
    });
    c.on('error', (e: Error) => resolve({ ok: false, banner, error: e.message }));
    c.connect({
      host: '127.0.0.1',
      port: P.ssh,
      localAddress: from,
      username: 'admin',
      password,
      readyTimeout: 10_000,
    });
  });
}

const restLogin = (from: string, password: string) =>
  rest(P.https, 'GET', '/api/v1/system', { auth: { user: 'admin', password }, localAddress: from });

t.test('five failures from one source, mixed over TCP, SSH and REST, lock it out of all three', async (t) => {
  const attacker = '127.0.0.1';
  t.match(await tcpLogin(attacker, 'wrong-1'), /% Login incorrect/, 'TCP failure 1');
  t.match(await tcpLogin(attacker, 'wrong-2'), /% Login incorrect/, 'TCP failure 2');
  t.equal((await sshLogin(attacker, 'wrong-3')).ok, false, 'SSH failure 3');
  t.equal((await sshLogin(attacker, 'wrong-4')).ok, false, 'SSH failure 4');
  const fifth = await restLogin(attacker, 'wrong-5');
  t.equal(fifth.status, 429, 'the fifth failure (REST) locks the source: 429');
  t.match(JSON.parse(fifth.text), { code: 'too-many-attempts', detail: LOCKED });
  t.equal(fifth.headers['retry-after'], '60', 'Retry-After: 60');

  // Locked: even the right password is refused, before it is checked.
  const tcp = await tcpLogin(attacker, PASSWORD);
  t.match(
    tcp,
    /^% Too many failed logins from 127\.0\.0\.1; try again in \d+ s\.\n$/,
    'TCP: refused at connect, with the reason',
  );
  const ssh = await sshLogin(attacker, PASSWORD);
  t.equal(ssh.ok, false, 'SSH: refused with the right password');
  t.match(ssh.banner, LOCKED, 'SSH: the banner says why');
  const r = await restLogin(attacker, PASSWORD);
  t.equal(r.status, 429, 'REST Basic: 429 with the right password');
  t.ok(
    Number(r.headers['retry-after']) > 0 && Number(r.headers['retry-after']) <= 60,
    'REST: Retry-After counts down',
  );
  const login = await rest(P.https, 'POST', '/api/v1/login', {
    auth: null,
    body: { username: 'admin', password: PASSWORD },
    localAddress: attacker,
  });
  t.equal(login.status, 429, 'REST login: 429');

  // Another source is not affected, on any transport.
  const other = '127.0.0.2';
  t.match(await tcpLogin(other, PASSWORD), / > $/, 'TCP from 127.0.0.2 logs in');
  t.equal((await sshLogin(other, PASSWORD)).ok, true, 'SSH from 127.0.0.2 logs in');
  t.equal((await restLogin(other, PASSWORD)).status, 200, 'REST from 127.0.0.2 logs in');
  t.match(
    box.stderr(),
    /"msg":"cli login refused".*Too many failed logins from 127\.0\.0\.1/,
    'the box log says why',
  );

  if (FULL) {
    await sleep(61_000);
    t.match(await tcpLogin(attacker, PASSWORD), / > $/, 'after 60 s the source may log in again');
  }
});

t.test('each transport alone counts to the lockout', async (t) => {
  const sshOnly = '127.0.0.11';
  for (let i = 1; i <= 5; i++) await sshLogin(sshOnly, `bad-${i}`);
  const s = await sshLogin(sshOnly, PASSWORD);
  t.equal(s.ok, false, 'SSH: five failures lock the source');
  t.match(s.banner, /Too many failed logins from 127\.0\.0\.11/);

  const restOnly = '127.0.0.12';
  const codes = [];
  for (let i = 1; i <= 5; i++) codes.push((await restLogin(restOnly, `bad-${i}`)).status);
  t.same(codes, [401, 401, 401, 401, 429], 'REST: four 401s, then the fifth failure answers 429');

  const tcpOnly = '127.0.0.13';
  // Three per connection (then the box hangs up), two more on a second connection.
  const c = await tcpFrom(tcpOnly);
  for (let i = 1; i <= 3; i++) {
    await c.out.until('login: ');
    c.sock.write(`admin\nbad-${i}\n`);
  }
  await c.closed;
  t.equal(c.out.data.match(/% Login incorrect/g)?.length, 3, 'three tries on one connection');
  t.match(await tcpLogin(tcpOnly, 'bad-4'), /Login incorrect/);
  t.match(
    await tcpLogin(tcpOnly, 'bad-5'),
    /% Login incorrect\n% Too many failed logins from 127\.0\.0\.13; try again in 60 s\.\n$/,
    'the fifth says the source is locked out',
  );
  t.match(await tcpLogin(tcpOnly, PASSWORD), /^% Too many failed logins/);
});

t.test('a parallel burst gets no more tries than the limit allows', async (t) => {
  const burst = '127.0.0.14';
  const results = await Promise.all(Array.from({ length: 60 }, (_, i) => restLogin(burst, `burst-${i}`)));
  const checked = results.filter((r) => r.status === 401).length;
  t.ok(checked <= 5 + 32, `at most maxFailures + maxConcurrent passwords checked (${checked} of 60)`);
  t.ok(
    results.every((r) => r.status === 401 || r.status === 429),
    'the rest: 429',
  );
  t.equal((await restLogin(burst, PASSWORD)).status, 429, 'and the source is locked out');
});

/** As admin over the TCP CLI (from 127.0.0.40): run config-mode lines. */
async function configure(...lines: string[]): Promise<string> {
  const c = await TcpClient.login(P.cli, 'admin', PASSWORD, '127.0.0.1', '127.0.0.40');
  await c.cmd('enable');
  await c.cmd('configure terminal');
  let out = '';
  for (const l of lines) out += await c.cmd(l);
  c.sock.destroy();
  return out;
}

t.test('a successful login in between does not reset the count (issue 15 #4)', async (t) => {
  await configure('username watcher password Watch3r-pw', 'username watcher capability monitor');
  const from = '127.0.0.50';
  const codes: number[] = [];
  for (let i = 1; i <= 5; i++) {
    const ok = await rest(P.https, 'GET', '/api/v1/system', {
      auth: { user: 'watcher', password: 'Watch3r-pw' },
      localAddress: from,
    });
    t.equal(ok.status, 200, `the guesser's own monitor account logs in (${i})`);
    codes.push((await restLogin(from, `guess-${i}`)).status);
  }
  t.same(codes, [401, 401, 401, 401, 429], 'the fifth wrong admin password locks the source all the same');
  t.equal((await restLogin(from, PASSWORD)).status, 429, 'locked out, even with the right password');
  t.match(box.stderr(), /"msg":"login failed"[^\n]*"transport":"rest"[^\n]*"source":"rest 127\.0\.0\.50:/);
  t.match(
    box.stderr(),
    /"msg":"source locked out"[^\n]*"source":"rest 127\.0\.0\.50:/,
    'the lockout is logged',
  );
});

t.test('40 concurrent wrong passwords: at most 5 checked (issue 15 #4)', async (t) => {
  const from = '127.0.0.51';
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => restLogin(from, `par-${i}`)));
  const checked =
    results.filter((r) => r.status === 401).length +
    (results.some((r) => /try again in 60 s/.test(r.text)) ? 1 : 0);
  t.ok(checked <= 5, `at most 5 passwords checked (${checked} of 40)`);
  t.ok(
    results.every((r) => r.status === 401 || r.status === 429),
    'the rest: 429',
  );
});

t.test(
  '200 parallel REST requests with correct Basic credentials are all served (issue 15 #6)',
  async (t) => {
    const from = '127.0.0.52';
    const results = await Promise.all(
      Array.from({ length: 200 }, () =>
        rest(P.https, 'GET', '/api/v1/system', { localAddress: from, timeoutMs: 30_000 }),
      ),
    );
    const byStatus = new Map<number, number>();
    for (const r of results) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    t.same([...byStatus], [[200, 200]], 'every one 200 (none "429 Too many logins at once")');
  },
);

t.test("a REST token ends with its user's password change or removal (issue 15 #6)", async (t) => {
  await configure('username tok password T0ken-pw-1', 'username tok capability operator');
  const login = async () => {
    const r = await rest(P.https, 'POST', '/api/v1/login', {
      auth: null,
      body: { username: 'tok', password: 'T0ken-pw-1' },
      localAddress: '127.0.0.53',
    });
    t.equal(r.status, 200, 'token issued');
    return (JSON.parse(r.text) as { token: string }).token;
  };
  const session = (token: string) =>
    rest(P.https, 'GET', '/api/v1/session', {
      auth: null,
      headers: { Authorization: `Bearer ${token}` },
      localAddress: '127.0.0.53',
    });
  const first = await login();
  t.equal((await session(first)).status, 200, 'the token works');
  await configure('username tok password T0ken-pw-2');
  t.equal((await session(first)).status, 401, 'refused after the password change');
  await configure('username tok password T0ken-pw-1');
  t.equal((await session(first)).status, 401, 'and stays refused when the old password comes back');
  const second = await login();
  await configure('no username tok');
  t.equal((await session(second)).status, 401, 'refused after the user is removed');
});

t.test('no empty or default password gets in, over any transport', async (t) => {
  const from = '127.0.0.20';
  // Each guess counts: spread over sources so the lockout does not hide the answer.
  let n = 0;
  const src = () => `127.0.0.${21 + Math.floor(n++ / 4)}`;
  for (const pw of ['', 'admin', 'admin123A!', 'password', 'gigamon', 'Adm1n']) {
    t.match(await tcpLogin(src(), pw), /Login incorrect/, `TCP: "${pw}" refused`);
    t.equal((await sshLogin(src(), pw)).ok, false, `SSH: "${pw}" refused`);
    t.equal((await restLogin(src(), pw)).status, 401, `REST Basic: "${pw}" refused`);
    const login = await rest(P.https, 'POST', '/api/v1/login', {
      auth: null,
      body: { username: 'admin', password: pw },
      localAddress: src(),
    });
    t.ok(login.status === 400 || login.status === 401, `REST login: "${pw}" refused (${login.status})`);
  }
  const none = await new Promise<string>((resolve) => {
    const c = new ssh2.Client();
    c.on('ready', () => resolve('in'));
    c.on('error', (e: Error) => resolve(e.message));
    // No password at all: the "none" method.
    c.connect({
      host: '127.0.0.1',
      port: P.ssh,
      localAddress: from,
      username: 'admin',
      readyTimeout: 10_000,
    });
  });
  t.match(none, /authentication methods failed/, 'SSH "none" method refused');
  const c = await tcpFrom('127.0.0.30');
  await c.out.until('login: ');
  c.sock.write(
    `admin\n${PASSWORD}\nenable\nconfigure terminal\nusername nopw password ""\nusername nopw capability operator\n`,
  );
  await c.out.until(/does not exist[^\n]*\n[^\n]*\(config\) # $/);
  c.sock.destroy();
  t.match(c.out.data, /% Empty passwords are not allowed\./, 'an empty password cannot be set');
  t.match(c.out.data, /% User "nopw" does not exist/, 'so that user does not exist');
});
