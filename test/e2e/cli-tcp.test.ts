/**
 * The CLI over raw TCP, end to end: a node:net client against TcpCliServer
 * on 127.0.0.72, port 0, serving in-process boxes with the real ACME agent
 * and SNMP notifier. The ACME commands run against a real Pebble (one for
 * the file, challtestsrv as the box's name server), the SNMP commands
 * against a real snmptrapd.
 */
import { createServer } from 'node:net';
import t from 'tap';
import { TcpCliServer } from '../../src/cli/transports/tcp.js';
import { silentLogger } from '../../src/lib/logger.js';
import { listenOn } from '../../src/lib/net.js';
import { garbage } from '../harness/garbage.js';
import { servedCertificate } from '../harness/pebble.js';
import {
  acmeLifecycleScript,
  checkHappyOutcome,
  checkTranscript,
  type CliLab,
  cliTestFile,
  errorScript,
  happyScript,
  lastRequestFor,
  PROMPT,
  revokeAndClearScript,
  runScriptSteps,
  scriptEnv,
  scriptOf,
  slowAcmeDirectory,
  TcpClient,
  tcpConversation,
  TEST_PASSWORD,
  testPems,
} from './cli-helpers.js';

/** This file's loopback address: Pebble's VA and challtestsrv point at it (see cli-helpers.ts). */
const ADDRESS = '127.0.0.72';
const { peers, withLab } = await cliTestFile(t, ADDRESS);
/** Client source addresses of the many-sessions test. */
const SOURCES = ['127.0.2.1', '127.0.2.2', '127.0.2.3', '127.0.2.4', '127.0.2.5'];

/** Log in to the lab's TCP CLI. */
const login = (lab: CliLab, user?: string, password?: string) =>
  TcpClient.login(lab.tcpPort, user, password, lab.address);
const connect = (lab: CliLab) => TcpClient.connect(lab.tcpPort, lab.address);

/** Log in, send a whole script, and return everything until the box closes the connection. */
async function runScript(
  lab: CliLab,
  text: string | Buffer,
  user = 'admin',
  password = TEST_PASSWORD,
): Promise<string> {
  const c = await login(lab, user, password);
  c.send(text);
  await c.closed;
  return c.out.data;
}

t.test('login', async (t) => {
  const lab = await withLab(t);
  const c = await connect(lab);
  t.equal(await c.out.until('login: '), 'login: ');
  c.send('admin\r\n');
  t.equal(await c.out.until('Password: '), 'Password: ', 'the password is asked for; nothing is echoed');
  c.send(TEST_PASSWORD + '\r\n');
  t.equal(await c.out.until(PROMPT), 'box1 > ');
  t.equal(lab.tcp.sessionCount, 1);
  c.send('exit\n');
  await c.closed;
  t.match(c.out.data, /box1 > \n$/, 'exit in standard mode logs out');
  t.equal(lab.tcp.sessionCount, 0);

  const bad = await connect(lab);
  for (let i = 0; i < 3; i++) {
    await bad.out.until('login: ');
    bad.send('admin\n');
    await bad.out.until('Password: ');
    bad.send(`wrong-${i}\n`);
    t.equal(await bad.out.until('% Login incorrect\n'), '\n% Login incorrect\n', `wrong password ${i + 1}`);
  }
  await bad.closed;
  t.notMatch(
    bad.out.data.slice(bad.out.data.lastIndexOf('incorrect')),
    /login: /,
    'closed after the third wrong password',
  );

  const retry = await connect(lab);
  await retry.out.until('login: ');
  retry.send('\nnobody\nx\n');
  await retry.out.until('% Login incorrect\nlogin: ');
  retry.send('admin\n' + TEST_PASSWORD + '\nshow version\n');
  t.match(await retry.out.until(/\nbox1 > $/), /Product name/, 'a second try works, typed-ahead lines run');
  retry.destroy();
});

t.test('every command: happy path; then renew, revoke and clear', async (t) => {
  const lab = await withLab(t);
  const defaultServed = await servedCertificate(lab.address, lab.httpsPort);
  const env = scriptEnv(peers, await testPems());
  const steps = happyScript(env);
  const run = await runScriptSteps(tcpConversation(await login(lab)), steps);
  t.equal(run.error, undefined, 'the script ran to the end');
  await checkHappyOutcome(t, lab, env, { steps, output: run.output });
  const rx = peers.trapd;

  const life = [...acmeLifecycleScript(), ...revokeAndClearScript()];
  const r2 = await runScriptSteps(tcpConversation(await login(lab)), life);
  t.equal(r2.error, undefined);
  t.same(checkTranscript(r2.output, life), []);
  const revoked = await rx.waitFor((n) => n.name === 'gvosSimCertRevoked');
  t.ok(revoked, 'snmptrapd got the revocation');
  await rx.waitFor((n) => n.name === 'gvosSimCertRenewed');
  await rx.waitFor((n) => n.name === 'gvosSimCertCleared');
  t.equal(
    (await servedCertificate(lab.address, lab.httpsPort)).serial,
    defaultServed.serial,
    'HTTPS serves the default certificate again',
  );
  t.equal(lab.box().acmeState().issued, null);
});

t.test('errors of every command group', async (t) => {
  const lab = await withLab(t);
  const steps = errorScript(scriptEnv(peers, await testPems()));
  t.same(checkTranscript(await runScript(lab, scriptOf(steps)), steps), []);
});

t.test('modes, ? and Tab without a pty', async (t) => {
  const lab = await withLab(t);
  const c = await login(lab);
  t.equal(await c.cmd('enable'), '\nbox1 # ');
  t.equal(await c.cmd('conf t'), '\nbox1 (config) # ');
  t.match(
    await c.cmd('show ?'),
    /^\n {2}card +The cards[\s\S]*\n {2}chassis +The boxes[\s\S]*\n {2}running-config +The running configuration[\s\S]*\n {2}web +The HTTPS server[^\n]*\nbox1 \(config\) # $/,
    '? at the end of a line',
  );
  t.match(
    await c.cmd('crypto certificate acme issue ?'),
    /^\n {2}box-id +Target another box of the cluster\n {2}domain +The domain[^\n]*\nbox1 \(config\) # $/,
  );
  c.send('sh\tver\t\n');
  t.match(await c.out.until(PROMPT), /^ow sion \nProduct name/, 'Tab completes and says what it added');
  t.equal(await c.cmd('end'), '\nbox1 # ');
  await c.cmd('conf t');
  c.send('\x1a');
  t.equal(await c.out.until(PROMPT), '\nbox1 # ', 'Ctrl-Z returns to enable mode');
  t.equal(await c.cmd('exit'), '\nbox1 > ');
  c.send('show version\x03show chassis\n');
  t.match(
    await c.out.until(/Box ID[\s\S]*\nbox1 > $/),
    /^\nbox1 > \nChassis:\n +Box ID/,
    'Ctrl-C drops the line',
  );
  c.end();
  await c.closed;
});

t.test('roles: operator and monitor users made with the CLI', async (t) => {
  const lab = await withLab(t);
  await runScript(
    lab,
    'enable\nconf t\nusername op1 password op-pass-1\nusername op1 capability operator\nusername mon1 password mon-pass-1\nexit\nexit\nexit\n',
  );
  const op = await login(lab, 'op1', 'op-pass-1');
  await op.cmd('enable');
  t.equal(await op.cmd('configure terminal'), '\nbox1 (config) # ');
  t.equal(await op.cmd('hostname op-box'), '\nop-box (config) # ');
  t.equal(await op.cmd('no username mon1'), '\n% Permission denied.\nop-box (config) # ');
  t.equal(await op.cmd('crypto mode fips'), '\n% Permission denied.\nop-box (config) # ');
  op.destroy();
  const mon = await login(lab, 'mon1', 'mon-pass-1');
  t.match(await mon.cmd('show chassis'), /Box ID +: 1\*\s+Hostname +: op-box/);
  await mon.cmd('enable');
  t.equal(await mon.cmd('configure terminal'), '\n% Permission denied.\nop-box # ');
  t.equal(await mon.cmd('reload'), '\n% Permission denied.\nop-box # ');
  t.match(
    await mon.cmd('show running-config'),
    /username mon1 password \*{8}\nusername mon1 capability monitor/,
  );
  t.match(await mon.cmd('?'), /^\n {2}cli +Settings of the CLI\n {2}disable[\s\S]*\n {2}show /);
  t.notMatch(await mon.cmd('?'), /configure|write|reload/, 'a monitor does not see what it may not do');
  mon.destroy();
});

t.test('bad input', async (t) => {
  const lab = await withLab(t);
  const c = await login(lab);
  c.send('z'.repeat(1024 * 1024) + '\n');
  t.match(await c.out.until(PROMPT), /^\n% Line too long \(max \d+ bytes\)\.\nbox1 > $/, '1 MiB line');
  c.send(garbage(256 * 1024));
  c.send('\x03\nshow version\n');
  t.match(await c.out.until(/Crypto mode[^\n]*\nbox1 > $/), /Product name/, 'binary garbage');
  await c.cmd('enable');
  await c.cmd('conf t');
  c.send('crypto certificate name c public-cert pem "-----BEGIN CERTIFICATE-----\nMIIB\n');
  await new Promise((r) => setTimeout(r, 100));
  t.notMatch(c.out.data.slice(-30), /% /, 'an open quote waits');
  c.send('\x03show web\n');
  t.match(
    await c.out.until(/Management address[^\n]*\n[^\n]*# $/),
    /^\nbox1 \(config\) # \nWeb HTTPS certificate/,
    'Ctrl-C ends the open quote',
  );
  c.send('crypto certificate name big public-cert pem "' + 'QUJD\n'.repeat(20_000) + '"\n');
  t.match(await c.out.until(PROMPT), /% PEM value too long \(max 65536 bytes\); the command was discarded\./);
  c.send('crypto certificate name c public-cert pem "-----BEGIN CERTIFICATE-----\nMIIB\n');
  c.end();
  await c.closed;
  t.match(
    c.out.data,
    /% Missing closing quote: the command was discarded at the end of input\.\n$/,
    'unterminated quote at end of input',
  );
  t.equal(lab.tcp.sessionCount, 0);
});

t.test('half-close: typed lines still run', async (t) => {
  const lab = await withLab(t);
  const c = await connect(lab);
  c.send(`admin\n${TEST_PASSWORD}\nshow version\nshow chassis`);
  c.end();
  await c.closed;
  t.match(
    c.out.data,
    /Product name[\s\S]*Box ID +: 2\n +Hostname +: box2/,
    'output arrives before the box closes, a last line without LF runs',
  );
});

t.test('a client that disconnects mid-command', async (t) => {
  const lab = await withLab(t);
  const { box, directoryUrl, proxy } = await slowAcmeDirectory(t, lab, peers);
  const c = await login(lab);
  c.send(`enable\nconf t\ncrypto certificate acme issue domain gone.lab.test acme-server ${directoryUrl}\n`);
  await c.out.until('(config) # ');
  t.notMatch(c.out.data, /Issuance in progress/, 'no answer yet: the command is running');
  c.destroy();
  await lastRequestFor(box, 'gone.lab.test');
  t.match(box.acmeState().lastRequest, { type: 'Issue', domain: 'gone.lab.test' }, 'the command completed');
  proxy.setSlow(0);
  t.equal(lab.tcp.sessionCount, 0);
  const d = await login(lab);
  let info = '';
  for (let i = 0; i < 300 && !/Request-Status +: (?!In Progress)/.test(info); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 100));
    info = await d.cmd('show crypto acme client info');
  }
  t.match(
    info,
    /Domain +: gone\.lab\.test[\s\S]*Request-Status +: Success\n {2}Type of Request +: Issue/,
    'the server goes on: the issuance finished',
  );
  d.destroy();
});

t.test('50 sessions at once', async (t) => {
  const lab = await withLab(t);
  // From five source addresses, ten each, as five managers would: the box bounds the password
  // checks one source may run at once (lib/login-throttle.ts), which is not what this tests.
  const clients = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      TcpClient.login(lab.tcpPort, 'admin', TEST_PASSWORD, lab.address, SOURCES[i % SOURCES.length]),
    ),
  );
  t.equal(lab.tcp.sessionCount, 50);
  // Some misbehave: garbage, a 1 MiB line, leaving mid-line.
  clients[0]!.send(garbage(64 * 1024));
  clients[1]!.send('x'.repeat(1024 * 1024));
  clients[2]!.send('show ver');
  clients[2]!.destroy();
  const rest = clients.slice(3);
  const outs = await Promise.all(rest.map((c, i) => c.cmd(i % 2 ? 'show version' : 'show chassis')));
  t.equal(
    outs.filter((o, i) => (i % 2 ? /Product name/ : /Box ID/).test(o)).length,
    rest.length,
    'every other session works',
  );
  for (const c of clients) c.destroy();
  await Promise.all(clients.map((c) => c.closed));
  // The box notices each close when its event loop gets there; under load (the 1 MiB line above
  // is still being refused) that can take longer than any fixed pause, so wait for it, bounded.
  for (let i = 0; i < 100 && lab.tcp.sessionCount > 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(lab.tcp.sessionCount, 0);
});

t.test('session limit', async (t) => {
  const lab = await withLab(t, { maxSessions: 2 });
  const a = await login(lab);
  const b = await connect(lab);
  await b.out.until('login: ');
  const c = await connect(lab);
  await c.closed;
  t.equal(c.out.data, '% Too many CLI sessions on box 1 (at most 2); close one and try again.\n');
  a.destroy();
  b.destroy();
  await Promise.all([a.closed, b.closed]);
  await new Promise((r) => setTimeout(r, 20));
  const d = await login(lab);
  t.equal(await d.cmd('enable'), '\nbox1 # ', 'room again');
  d.destroy();
});

t.test('listen errors and close', async (t) => {
  const lab = await withLab(t);
  const clash = new TcpCliServer({
    address: lab.address,
    port: lab.tcpPort,
    cluster: lab.cluster,
    boxId: 1,
    logger: silentLogger,
  });
  await t.rejects(clash.listen(), {
    message: `TCP CLI of box 1: cannot listen on ${lab.address}:${lab.tcpPort}: the port is already in use (EADDRINUSE).`,
  });
  // Another program holding a port on the box's own (loopback) address: the
  // same words, and once it lets go the same server listens there, so its
  // failed try left nothing behind. (An address the host does not have,
  // EADDRNOTAVAIL, is src/lib/net.test.ts's: no loopback address gives it.)
  const holder = createServer();
  const held = await listenOn(holder, lab.address, 0, 'another program');
  const taken = new TcpCliServer({
    address: lab.address,
    port: held,
    cluster: lab.cluster,
    boxId: 1,
    logger: silentLogger,
  });
  await t.rejects(taken.listen(), {
    message: `TCP CLI of box 1: cannot listen on ${lab.address}:${held}: the port is already in use (EADDRINUSE).`,
  });
  await new Promise((r) => holder.close(r));
  t.equal(await taken.listen(), held, 'it listens once the port is free');
  await taken.close();
  const c = await login(lab);
  const pending = await connect(lab);
  const started = Date.now();
  await lab.tcp.close();
  await Promise.all([c.closed, pending.closed]);
  t.ok(Date.now() - started < 1000, 'close() ends sessions and logins promptly');
  t.equal(lab.tcp.sessionCount, 0);
  const again = new TcpCliServer({
    address: lab.address,
    port: lab.tcpPort,
    cluster: lab.cluster,
    boxId: 1,
    logger: silentLogger,
  });
  t.equal(await again.listen(), lab.tcpPort, 'the port is free again at once (reload)');
  await again.close();
});
