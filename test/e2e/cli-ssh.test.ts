/**
 * The CLI over SSH, end to end: the real OpenSSH client (through sshpass,
 * host key checked against a known_hosts line built from the box's key)
 * against SshCliServer on 127.0.0.71, port 0, serving in-process boxes with
 * the real ACME agent and SNMP notifier. The ACME commands run against a
 * real Pebble (one for the file, challtestsrv as the box's name server) and
 * the SNMP commands against a real snmptrapd; the last test runs the real
 * box process.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2, { type ClientChannel } from 'ssh2';
import t from 'tap';
import { SshCliServer } from '../../src/cli/transports/ssh.js';
import { silentLogger } from '../../src/lib/logger.js';
import { listenOn } from '../../src/lib/net.js';
import { REPO_ROOT, startBoxProcess } from '../harness/box-process.js';
import { garbage } from '../harness/garbage.js';
import { servedCertificate } from '../harness/pebble.js';
import {
  acmeLifecycleScript,
  checkHappyOutcome,
  checkTranscript,
  cliTestFile,
  E2E_DOMAIN,
  errorScript,
  happyScript,
  killSshClients,
  lastRequestFor,
  pollSsh,
  Reader,
  runScriptSteps,
  runSsh,
  scriptEnv,
  scriptOf,
  slowAcmeDirectory,
  spawnSsh,
  sshConversation,
  type SshTarget,
  TcpClient,
  TEST_PASSWORD,
  testPems,
  writeKnownHosts,
} from './cli-helpers.js';

/** This file's loopback address: Pebble's VA and challtestsrv point at it (see cli-helpers.ts). */
const ADDRESS = '127.0.0.71';
const { peers, withLab } = await cliTestFile(t, ADDRESS);

/** The answer of `show crypto acme client info` once the request is no longer running. */
const FINISHED = /Request-Status +: (?!In Progress)/;

t.test('login and host key', async (t) => {
  const lab = await withLab(t);
  const ok = await runSsh(lab, { command: 'show version' });
  t.equal(ok.code, 0);
  t.match(ok.stdout, /^Product name: +GigaVUE-OS\n/);
  const bad = await runSsh(lab, { password: 'wrong-password', command: 'show version' });
  t.equal(bad.code, 5, 'sshpass: wrong password');
  t.equal(bad.stdout, '');
  const unknownUser = await runSsh(lab, { user: 'nobody', command: 'show version' });
  t.equal(unknownUser.code, 5);
  // A known_hosts line with another key: the client refuses to talk to the box.
  writeKnownHosts(lab.knownHosts, lab.address, lab.sshPort, lab.cluster.get(2).sshHostKey);
  const spoofed = await runSsh(lab, { command: 'show version' });
  t.not(spoofed.code, 0, 'host key mismatch');
  t.equal(spoofed.stdout, '');
});

t.test('every command: happy path, shell without pty; then renew, revoke and clear', async (t) => {
  const lab = await withLab(t);
  const defaultServed = await servedCertificate(lab.address, lab.httpsPort);
  const env = scriptEnv(peers, await testPems());
  const steps = happyScript(env);
  const session = sshConversation(lab);
  const run = await runScriptSteps(session, steps);
  const r = session.result();
  t.equal(run.error, undefined, 'the script ran to the end');
  t.equal(r.code, 0);
  // What the script did, seen from outside: Pebble's certificate on the HTTPS port, the test notifications.
  const issued = await checkHappyOutcome(t, lab, env, { steps, output: r.stdout });
  t.equal(await lab.box().authenticate('e2e-op', 'op pass 1'), 'operator');
  t.notOk(lab.box().hasUnsavedChanges, 'write memory saved');
  const rx = peers.trapd;

  const life = acmeLifecycleScript();
  const lifeSession = sshConversation(lab);
  const r2 = await runScriptSteps(lifeSession, life);
  t.equal(r2.error, undefined);
  t.same(checkTranscript(r2.output, life), []);
  const renewed = lab.box().acmeState().issued!;
  t.not(renewed.serial, issued.serial, 'a new serial');
  const served = await servedCertificate(lab.address, lab.httpsPort);
  t.equal(served.serial, renewed.serial, 'HTTPS serves the renewed certificate');
  await rx.waitFor((n) => n.name === 'gvosSimCertRenewed' && n.pdu === 'TRAP2');

  // Revoke and clear over the exec channel: the exact answer, then the status polled as a user would.
  const revoke = await runSsh(lab, {
    command: `configure terminal\ncrypto certificate acme revoke domain ${E2E_DOMAIN} key-compromise`,
  });
  t.equal(
    revoke.stdout,
    'Revocation in progress. Check status using "show crypto acme client info box-id 1".\n',
  );
  t.match(
    await pollSsh(lab, 'show crypto acme client info', FINISHED),
    /Request-Status +: Success\n {2}Type of Request +: Revoke/,
  );
  t.match(
    await peers.pebble.certStatus(renewed.serial),
    { Status: 'Revoked', Reason: 1 },
    'Pebble: revoked, keyCompromise',
  );
  const reissued = lab.box().acmeState().issued!;
  t.equal(
    (await servedCertificate(lab.address, lab.httpsPort)).serial,
    reissued.serial,
    'a new certificate is served',
  );
  t.not(reissued.serial, renewed.serial);
  await rx.waitFor((n) => n.name === 'gvosSimCertRevoked');

  const clear = await runSsh(lab, { command: 'configure terminal\ncrypto certificate acme clear box-id 1' });
  t.equal(
    clear.stdout,
    'ACME certificate cleared on box-id 1; the web server uses the default certificate.\n',
  );
  t.equal(clear.code, 0);
  t.equal(
    (await servedCertificate(lab.address, lab.httpsPort)).serial,
    defaultServed.serial,
    'HTTPS serves the default certificate again',
  );
  await rx.waitFor((n) => n.name === 'gvosSimCertCleared');
});

t.test('errors of every command group', async (t) => {
  const lab = await withLab(t);
  const steps = errorScript(scriptEnv(peers, await testPems()));
  const r = await runSsh(lab, { input: scriptOf(steps) });
  t.same(checkTranscript(r.stdout, steps), []);
  t.equal(r.code, 0, 'the session ends normally after errors');
});

t.test('shell with a pty (-tt): echo, CR LF, ?, Tab, Ctrl-C, paging', async (t) => {
  const lab = await withLab(t);
  const input = [
    'show ?',
    '\r',
    'sh\tver\t\r',
    // show version is longer than a 24-row page now (the real layout): q ends its pager.
    'q',
    'show version\x03show chassis\r',
    'q', // and so is show chassis of two boxes (key : value blocks)
    'cli session terminal length 5\r',
    'show images\r',
    ' ',
    'q',
    'no cli session paging enable\r',
    'show images\r',
    'exit\r',
  ].join('');
  const r = await runSsh(lab, { tty: true, input });
  t.equal(r.code, 0);
  const out = r.stdout;
  t.match(
    out,
    /^box1 > show \?\r\n {2}card +The cards[^\r\n]*\r\n {2}chassis +The boxes of the cluster[^\r\n]*\r\n {2}clock [^\r\n]*\r\n {2}configuration [^\r\n]*\r\n {2}crypto /,
    'the ? is answered at once, with CR LF',
  );
  t.match(out, /\r\nbox1 > show \r\n% Incomplete command\.\r\n/, 'the line stays after ?');
  t.match(out, /box1 > show version \r\nProduct name/, 'Tab completed both words');
  t.match(out, /box1 > show version\^C\r\nbox1 > show chassis\r\nChassis:/, 'Ctrl-C dropped the line');
  t.match(
    out,
    /box1 > show images\r\n(?:[^\r\n]*\r\n){4}lines 1-4\r {9}\r(?:[^\r\n]*\r\n){4}lines 5-8\r {9}\rbox1 > /,
    'paged by 4 lines with the framework pager line; space, then q',
  );
  const last = out.slice(out.lastIndexOf('no cli session paging enable'));
  t.notMatch(last, /lines \d+-\d+/, 'paging off');
  t.match(last, /Images available to fetch:/);
});

t.test('paging is on by default on a pty and never on exec', async (t) => {
  const lab = await withLab(t);
  for (const name of ['c1', 'c2'])
    await lab
      .box()
      .addPublicCertificate({ user: 'admin', role: 'admin', source: 't' }, name, (await testPems()).cert);
  // The client has no terminal to measure: the box assumes 24 rows.
  const paged = await runSsh(lab, { tty: true, input: 'enable\rshow crypto certificate\rq' });
  t.match(paged.stdout, /(?:[^\r\n]*\r\n){23}lines 1-23/, 'a pty pages after 23 lines');
  const exec = await runSsh(lab, {
    tty: true,
    command: 'show crypto certificate\nshow version\nshow images',
  });
  t.notMatch(exec.stdout, /lines \d+-\d+/, 'exec never pages');
  t.match(exec.stdout, /\r\nProduct name/, 'exec with a pty: CR LF');
  const plain = await runSsh(lab, { input: 'enable\nshow crypto certificate\nshow version\nshow images\n' });
  t.notMatch(plain.stdout, /lines \d+-\d+/, 'no pty: no paging');
});

t.test('exec channel', async (t) => {
  const lab = await withLab(t);
  const r = await runSsh(lab, { command: 'show running-config' });
  t.equal(r.code, 0);
  t.match(
    r.stdout,
    /^##\n## Running configuration of box-id 1 \(box1\)/,
    'starts in enable mode, no prompt, LF',
  );
  const failed = await runSsh(lab, { command: 'foo' });
  t.equal(failed.code, 1, 'an error gives exit status 1');
  t.equal(failed.stdout, '% Unrecognized command "foo".\nType "?" for help.\n');
  const multi = await runSsh(lab, {
    command: 'configure terminal\nhostname exec-box\nshow chassis box-id 1',
  });
  t.match(multi.stdout, /^Chassis:\n +Box ID +: 1\*\n +Hostname +: exec-box\n/);
  t.equal(lab.box().hostname, 'exec-box');
  const env = await runSsh(lab, { command: 'show version', options: ['SetEnv=LANG=C GVOS_TEST=1'] });
  t.equal(env.code, 0, 'env requests are accepted');
  const envShell = await runSsh(lab, {
    tty: true,
    input: 'show version\rexit\r',
    options: ['SetEnv=LANG=C'],
  });
  t.match(envShell.stdout, /Product name/);
});

t.test('pty size and window-change (ssh2 client)', async (t) => {
  const lab = await withLab(t);
  const parsed = ssh2.utils.parseKey(lab.box().sshHostKey);
  if (parsed instanceof Error) throw parsed;
  const blob = (Array.isArray(parsed) ? parsed[0] : parsed).getPublicSSH();
  const conn = new ssh2.Client();
  t.teardown(() => conn.end());
  await new Promise<void>((resolve, reject) => {
    conn.on('ready', () => resolve()).on('error', reject);
    conn.connect({
      host: lab.address,
      port: lab.sshPort,
      username: 'admin',
      password: TEST_PASSWORD,
      hostVerifier: (key: Buffer) => key.equals(blob),
    });
  });
  const stream = await new Promise<ClientChannel>((resolve, reject) =>
    conn.shell({ rows: 5, cols: 80, term: 'vt100' }, (err, s) => (err ? reject(err) : resolve(s))),
  );
  const out = new Reader();
  stream.on('data', (d: Buffer) => out.push(d.toString()));
  await out.until('box1 > ');
  stream.write('show images\r');
  t.match(
    await out.until('lines 1-4'),
    /show images\r\n(?:[^\r\n]*\r\n){4}lines 1-4$/,
    'pages of rows - 1 lines',
  );
  stream.write('q');
  await out.until('box1 > ');
  stream.setWindow(60, 120, 0, 0);
  stream.write('show images\r');
  t.notMatch(
    await out.until(/Images available to fetch:[\s\S]*box1 > $/),
    /lines \d+-\d+/,
    'a taller window: no paging',
  );
  stream.write('exit\r');
  await new Promise((r) => stream.once('close', r));
});

t.test('roles: operator and monitor users made with the CLI', async (t) => {
  const lab = await withLab(t);
  const mk = await runSsh(lab, {
    command:
      'configure terminal\nusername op1 password op-pass-1\nusername op1 capability operator\nusername mon1 password mon-pass-1',
  });
  t.equal(mk.stdout, '');
  const op = await runSsh(lab, {
    user: 'op1',
    password: 'op-pass-1',
    input:
      'enable\nconfigure terminal\nhostname op-box\nusername x password y\ncrypto certificate acme clear\nimage fetch image-gvos-6.5.00.img\nwrite memory\nexit\nexit\nexit\n',
  });
  t.match(
    op.stdout,
    /op-box \(config\) # \n% Permission denied\.\nop-box \(config\) # \n% Permission denied\.\nop-box \(config\) # \n% Permission denied\.\nop-box \(config\) # \nop-box \(config\) # /,
    'operator: config yes, users/ACME/images no',
  );
  const mon = await runSsh(lab, {
    user: 'mon1',
    password: 'mon-pass-1',
    input:
      'show version\nenable\nconfigure terminal\nwrite memory\nreload\nshow running-config\nshow crypto acme client info box-id 2\nexit\nexit\n',
  });
  t.match(mon.stdout, /Product name/);
  t.match(
    mon.stdout,
    /op-box # \n% Permission denied\.\nop-box # \n% Permission denied\.\nop-box # \n% Permission denied\.\nop-box # \n##/,
    'monitor: read-only',
  );
  t.match(mon.stdout, /Box Id 2:/);
  t.match(mon.stdout, /username op1 password \*{8}/, 'monitor reads the running config, masked');
  t.equal(await lab.box().authenticate('mon1', 'mon-pass-1'), 'monitor');
  const execMon = await runSsh(lab, { user: 'mon1', password: 'mon-pass-1', command: 'configure terminal' });
  t.equal(execMon.stdout, '% Permission denied.\n');
  t.equal(execMon.code, 1);
});

t.test('bad input', async (t) => {
  const lab = await withLab(t);
  const long = await runSsh(lab, { input: 'x'.repeat(1024 * 1024) + '\nshow version\nexit\n' });
  t.match(
    long.stdout,
    /% Line too long \(max \d+ bytes\)\.\nbox1 > \nProduct name/,
    '1 MiB line refused, next line runs',
  );
  const junk = Buffer.concat([garbage(256 * 1024), Buffer.from('\x03\nshow version\nexit\n')]);
  const g = await runSsh(lab, { input: junk });
  t.match(g.stdout, /Product name: +GigaVUE-OS/, 'binary garbage: the session still works');
  const open = await runSsh(lab, {
    input: 'enable\nconf t\ncrypto certificate name c public-cert pem "-----BEGIN CERTIFICATE-----\nMIIB\n',
  });
  t.match(
    open.stdout,
    /% Missing closing quote: the command was discarded at the end of input\.\n$/,
    'unterminated PEM quote at end of input',
  );
  t.equal(open.code, 0);
  const pty = await runSsh(lab, {
    tty: true,
    input:
      'enable\rconf t\rcrypto certificate name c public-cert pem "-----BEGIN\rMIIB\r\x03show web\rexit\rexit\rexit\r',
  });
  t.match(
    pty.stdout,
    /MIIB\r\n\^C\r\nbox1 \(config\) # show web\r\nWeb HTTPS certificate/,
    'Ctrl-C leaves an unterminated quote',
  );
  const big = await runSsh(lab, {
    input:
      'enable\nconf t\ncrypto certificate name big public-cert pem "' +
      'QUJD\n'.repeat(20_000) +
      '"\nshow web\n',
  });
  t.match(
    big.stdout,
    /% PEM value too long \(max 65536 bytes\); the command was discarded\.\nbox1 \(config\) # \nWeb HTTPS/,
    'a PEM over 64 KiB is refused, the session goes on',
  );
  t.equal(lab.ssh.sessionCount, 0, 'every session ended');
});

t.test('a client that disconnects mid-command', async (t) => {
  const lab = await withLab(t);
  const { box, directoryUrl, proxy } = await slowAcmeDirectory(t, lab, peers);
  const child = spawnSsh(lab);
  const out = new Reader();
  child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
  child.stdin!.write(
    `enable\nconf t\ncrypto certificate acme issue domain gone.lab.test acme-server ${directoryUrl}\n`,
  );
  await out.until('box1 (config) # ');
  await new Promise((r) => setTimeout(r, 100));
  t.notMatch(out.data, /Issuance in progress/, 'no answer yet: the command is running');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
  await lastRequestFor(box, 'gone.lab.test');
  t.match(
    box.acmeState().lastRequest,
    { type: 'Issue', domain: 'gone.lab.test' },
    'the command completed on the box',
  );
  proxy.setSlow(0);
  t.equal(lab.ssh.sessionCount, 0, 'the session is gone');
  t.match(
    await pollSsh(lab, 'show crypto acme client info', FINISHED),
    /Domain +: gone\.lab\.test[\s\S]*Request-Status +: Success\n {2}Type of Request +: Issue/,
    'the server goes on: the issuance finished',
  );
});

t.test('50 sessions at once', async (t) => {
  const lab = await withLab(t);
  // From five source addresses, ten each, as five managers would: the box bounds the password
  // checks one source may run at once (lib/login-throttle.ts), which is not what this tests.
  const bindAddress = (i: number) => `127.0.2.${1 + (i % 5)}`;
  const runs = Array.from({ length: 50 }, (_, i) =>
    i % 10 === 0
      ? runSsh(lab, {
          bindAddress: bindAddress(i),
          input: Buffer.concat([garbage(4096, `session-${i}`), Buffer.from('\x03\nshow chassis\nexit\n')]),
        })
      : runSsh(lab, {
          bindAddress: bindAddress(i),
          input: `show version\nshow chassis box-id ${1 + (i % 2)}\nexit\n`,
        }),
  );
  // One more that leaves at once.
  const quitter = spawnSsh(lab);
  setTimeout(() => quitter.kill('SIGKILL'), 200);
  const results = await Promise.all(runs);
  // The sessions that did not work, with what ssh said, so a failure says why.
  const bad = results.flatMap((r, i) =>
    r.code === 0 && (i % 10 === 0 ? /Box ID/.test(r.stdout) : /Product name[\s\S]*Box ID/.test(r.stdout))
      ? []
      : [{ session: i, code: r.code, stderr: r.stderr.slice(0, 300), stdout: r.stdout.slice(-300) }],
  );
  t.same(bad, [], 'every session worked');
  t.equal(lab.ssh.sessionCount, 0);
});

t.test('session limit', async (t) => {
  const lab = await withLab(t, { maxSessions: 2 });
  const held = [spawnSsh(lab), spawnSsh(lab)];
  const readers = held.map((c) => {
    const r = new Reader();
    c.stdout!.on('data', (d: Buffer) => r.push(d.toString()));
    return r;
  });
  await Promise.all(readers.map((r) => r.until('box1 > ')));
  t.equal(lab.ssh.sessionCount, 2);
  const refused = await runSsh(lab, { command: 'show version' });
  t.equal(refused.stdout, '% Too many CLI sessions on box 1 (at most 2); close one and try again.\n');
  t.equal(refused.code, 1);
  for (const c of held) c.stdin!.end('exit\n');
  await Promise.all(held.map((c) => new Promise((r) => c.once('close', r))));
  const ok = await runSsh(lab, { command: 'show version' });
  t.equal(ok.code, 0, 'room again after the others left');
});

t.test('listen errors and close', async (t) => {
  const lab = await withLab(t);
  /** Another SSH server of box 1: on the lab's address and SSH port with the box's host key, unless told. */
  const server = (o: { address?: string; port?: number; hostKeyPem?: string } = {}) =>
    new SshCliServer({
      address: lab.address,
      port: lab.sshPort,
      cluster: lab.cluster,
      boxId: 1,
      logger: silentLogger,
      hostKeyPem: lab.box().sshHostKey,
      ...o,
    });
  const clash = server();
  await t.rejects(clash.listen(), {
    message: new RegExp(
      `SSH CLI of box 1: cannot listen on 127\\.0\\.0\\.71:${lab.sshPort}: the port is already in use \\(EADDRINUSE\\)`,
    ),
  });
  // Another program holding a port on the box's own (loopback) address: the
  // same words, and once it lets go the same server listens there, so its
  // failed try left nothing behind. (An address the host does not have,
  // EADDRNOTAVAIL, is src/lib/net.test.ts's: no loopback address gives it.)
  const holder = createServer();
  const held = await listenOn(holder, lab.address, 0, 'another program');
  const taken = server({ port: held });
  await t.rejects(taken.listen(), {
    message: `SSH CLI of box 1: cannot listen on ${lab.address}:${held}: the port is already in use (EADDRINUSE).`,
  });
  await new Promise((r) => holder.close(r));
  t.equal(await taken.listen(), held, 'it listens once the port is free');
  await taken.close();
  t.throws(() => server({ port: 0, hostKeyPem: 'not a key' }), /SSH host key of box 1 is not usable/);

  const child = spawnSsh(lab);
  const out = new Reader();
  child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
  await out.until('box1 > ');
  const started = Date.now();
  await lab.ssh.close();
  await new Promise((r) => child.once('close', r));
  t.ok(Date.now() - started < 2000, 'close() ends sessions promptly');
  t.equal(lab.ssh.sessionCount, 0);
  const again = server();
  t.equal(await again.listen(), lab.sshPort, 'the port is free again at once (reload)');
  await again.close();
});

t.test(
  'the real box process (built): SSH, TCP, and a reload',
  { skip: !existsSync(join(REPO_ROOT, 'dist', 'src', 'main.js')) && 'not built (npm run build)' },
  async (t) => {
    const b = await startBoxProcess({ args: ['--hostname', 'real-box', '--address', ADDRESS] });
    t.teardown(() => b.stop());
    // known_hosts from the key the box keeps in its state (not trusted on first use).
    const doc = JSON.parse(readFileSync(join(b.dataDir, 'state.json'), 'utf8')) as { sshHostKey: string };
    const dir = mkdtempSync(join(tmpdir(), 'gvos-cli-real-'));
    const real: SshTarget = {
      address: ADDRESS,
      sshPort: b.ready.ports.ssh,
      knownHosts: join(dir, 'known_hosts'),
    };
    writeKnownHosts(real.knownHosts, ADDRESS, real.sshPort, doc.sshHostKey);
    t.teardown(() => {
      killSshClients(real);
      rmSync(dir, { recursive: true, force: true });
    });
    const v = await runSsh(real, { command: 'show version' });
    t.equal(v.code, 0);
    t.match(v.stdout, /^Product name: +GigaVUE-OS\n/);
    const shell = await runSsh(real, { tty: true, input: 'show chassis\rexit\r' });
    t.match(
      shell.stdout,
      /^real-box > show chassis\r\nChassis:\r\n +Box ID +: 1\*\r\n +Hostname +: real-box\r\n/,
    );
    const tcp = await TcpClient.login(b.ready.ports.cli, 'admin', TEST_PASSWORD, ADDRESS);
    t.match(await tcp.cmd('show crypto acme client info'), /Box Id 1:\n/);
    await tcp.cmd('enable');
    tcp.send('reload\n');
    t.match(
      await tcp.out.until('...\n'),
      /Rebooting box-id 1 \(real-box\)\.\.\.\n$/,
      'the line comes before the reload',
    );
    await tcp.closed;
    // The box comes back on the same ports.
    let back = '';
    for (let i = 0; i < 50 && !/Uptime/.test(back); i++) {
      await new Promise((r) => setTimeout(r, 200));
      back = (await runSsh(real, { command: 'show version', timeoutMs: 5000 })).stdout;
    }
    t.match(back, /Uptime: +0d 0h 0m \d+s/, 'logged in again after the reload');
  },
);
