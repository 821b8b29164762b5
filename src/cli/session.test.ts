import t from 'tap';
import type { Cluster } from '../device/cluster.js';
import type { Role } from '../device/roles.js';
import { MAX_PEM_BYTES } from '../device/limits.js';
import { makeTestBox, acmePortOf } from '../../test/harness/boxes.js';
import { MAX_LINE_BYTES, MAX_PENDING_CHARS, Session, type SessionOptions } from './session.js';
import { FakeAcme } from '../../test/harness/cli-fakes.js';
import { garbage } from '../../test/harness/garbage.js';

interface Harness {
  s: Session;
  cluster: Cluster;
  /** Everything written so far, then forget it. */
  take(): string;
  closed(): boolean;
  /** Feed input and wait until the session is idle; returns what it wrote. */
  send(input: string | Buffer): Promise<string>;
}

async function harness(o: Partial<SessionOptions> & { role?: Role } = {}): Promise<Harness> {
  const { cluster } = o.cluster ? { cluster: o.cluster } : await makeTestBox();
  let out = '';
  let closed = false;
  const s = new Session({
    cluster,
    boxId: 1,
    user: 'admin',
    role: 'admin',
    source: 'test',
    interactive: false,
    write: (x) => (out += x),
    close: () => (closed = true),
    ...o,
  });
  const take = () => {
    const x = out;
    out = '';
    return x;
  };
  s.start();
  return {
    s,
    cluster,
    take,
    closed: () => closed,
    send: async (input) => {
      s.input(input);
      await s.idle();
      return take();
    },
  };
}

t.test('prompts follow the mode and the live hostname', async (t) => {
  const h = await harness();
  t.equal(h.take(), 'box1 > ', 'first prompt');
  t.equal(await h.send('enable\n'), '\nbox1 # ');
  t.equal(await h.send('configure terminal\n'), '\nbox1 (config) # ');
  t.equal(await h.send('hostname edge-7\n'), '\nedge-7 (config) # ', 'hostname read from the box');
  t.equal(await h.send('end\n'), '\nedge-7 # ');
  t.equal(await h.send('conf t\n'), '\nedge-7 (config) # ');
  t.equal(await h.send('exit\n'), '\nedge-7 # ', 'exit leaves config mode');
  t.equal(await h.send('exit\n'), '\nedge-7 > ', 'exit leaves enable mode');
  t.notOk(h.closed());
  t.equal(await h.send('exit\n'), '\n', 'exit in standard mode closes');
  t.ok(h.closed());
  t.ok(h.s.ended);
  t.equal(await h.send('show version\n'), '', 'nothing after close');
});

t.test('without a pty: no echo, LF only, ? at the end of a line', async (t) => {
  const h = await harness();
  h.take();
  const out = await h.send('show ver\r\nshow ?\rsh?\n');
  t.notMatch(out, /\r/, 'no CR in the output');
  t.match(out, /^\nProduct name: +GigaVUE-OS\n/, 'output starts on its own line');
  t.match(out, /\n {2}version +Firmware version/, 'show ? lists the words');
  t.match(out, /box1 > \n {2}show +Display information\nbox1 > $/, 'sh? lists the matching words');
});

t.test('pty: echo, CR LF, ? at once, Tab, Ctrl-C, Ctrl-Z', async (t) => {
  const h = await harness({ interactive: true });
  h.take();
  t.equal(await h.send('sho'), 'sho', 'echo');
  t.equal(await h.send('\x7f\x7f\x7f'), '\b \b\b \b\b \b', 'backspace erases on the screen');
  // The help is printed at once, then the prompt and the line typed so far.
  const help = await h.send('show ?');
  t.match(
    help,
    /^show \?\r\n {2}card +The cards[\s\S]*\r\n {2}chassis +The boxes[\s\S]*\r\n {2}version +Firmware/,
    'help follows the ? at once',
  );
  t.match(help, /\r\nbox1 > show $/, 'prompt and line again');
  t.match(await h.send('\r'), /% Incomplete command\.\r\nbox1 > $/, 'the line is still there');
  t.equal(await h.send('sh\t'), 'show ', 'Tab completes');
  t.match(
    await h.send('c\t'),
    /c\r\n {2}card +chassis +clock +configuration +crypto\r\nbox1 > show c$/,
    'Tab lists the choices',
  );
  t.equal(await h.send('\x03'), '^C\r\nbox1 > ', 'Ctrl-C drops the line');
  t.match(
    await h.send('show version\x03show chassis\r'),
    /\^C\r\nbox1 > show chassis\r\nChassis:/,
    'only the line after Ctrl-C runs',
  );
  await h.send('enable\rconf t\r');
  t.equal(await h.send('host\x1a'), 'host^Z\r\nbox1 # ', 'Ctrl-Z returns to enable mode');
  t.equal(await h.send('\x1a'), '^Z\r\nbox1 # ', 'Ctrl-Z in enable mode stays');
});

t.test('paging: the framework pager lines N-M and lines N-M/T (END)', async (t) => {
  // The contract changed from --More-- to the framework's pager text (real-device.md section 3).
  const h = await harness({ interactive: true, rows: 5 });
  h.take();
  const all = (await harness({ interactive: false })).s.runOnce('show images');
  const total = (await all).trimEnd().split('\n').length;
  t.ok(total > 9, `show images has ${total} lines, more than two pages`);
  let out = await h.send('show images\r');
  const body = out.split('\r\n');
  t.equal(body.length, 6, '4 lines, then the pager line');
  t.equal(body[5], 'lines 1-4');
  out = await h.send(' ');
  t.match(out, /^\r {9}\r/, 'the pager line is erased');
  t.equal(out.split('\r\n').length, 5, 'space: the next page');
  t.match(out, /lines 5-8$/);
  out = await h.send('\r');
  t.equal(out.split('\r\n').length, 2, 'Enter: one more line');
  t.match(out, /lines 6-9$/, 'the pager line names the lines on the screen');
  out = await h.send('q');
  t.match(out, /^\r {9}\rbox1 > $/, 'q stops paging');
  t.match(await h.send('show version\r'), /Product name/, 'the session goes on');
  await h.send('q');

  out = await h.send('show images\r');
  for (let i = 0; i < 10 && !/\(END\)$/.test(out); i++) out = await h.send(' ');
  t.match(out, new RegExp(`lines \\d+-${total}/${total} \\(END\\)$`), 'the last page says (END)');
  t.match(await h.send(' '), /^\r +\rbox1 > $/, 'a key at (END) ends the pager');

  await h.send('no cli session paging enable\r');
  t.notMatch(await h.send('show images\r'), /lines \d/, 'paging off');
  await h.send('cli session paging enable\r');
  t.match(await h.send('show images\r'), /lines 1-4$/, 'paging on again');
  await h.send('q');
  await h.send('terminal length 999\r');
  t.notMatch(await h.send('show images\r'), /lines \d/, 'terminal length 999: no paging (Netshot)');
  await h.send('cli session terminal length 3\r');
  out = await h.send('show images\r');
  t.equal(out.split('\r\n').length, 4, 'length 3: two lines a page');
  await h.send('q');
  await h.send('terminal type dumb\r');
  t.equal(h.s.terminalType, 'dumb');

  // Keys typed ahead (a paste, a script) answer the pager in order.
  out = await h.send('cli session terminal length 5\rshow images\r qshow web\r');
  t.match(out, /lines 1-4\r {9}\r(?:[^\r\n]*\r\n){4}lines 5-8\r {9}\rbox1 > show web\r\nWeb HTTPS/);

  const plain = await harness({ interactive: false, rows: 5 });
  t.notMatch(await plain.send('show images\n'), /lines \d/, 'never without a pty');
  const resized = await harness({ interactive: true, rows: 100 });
  t.notMatch(await resized.send('show images\r'), /lines \d/);
  resized.s.resize(80, 4);
  t.match(await resized.send('show images\r'), /lines 1-3$/, 'window-change makes pages smaller');
  resized.s.inputEnd();
  await resized.s.idle();
  t.ok(resized.closed(), 'end of input while paging prints the rest and closes');
});

t.test('cli default paging: the saved default of every session that has not set its own', async (t) => {
  const h = await harness({ interactive: true, rows: 5 });
  const box = () => h.cluster.get(1);
  h.take();
  t.match(await h.send('show images\r'), /lines 1-4$/, 'on by default');
  await h.send('q');
  await h.send('enable\rconfigure terminal\rno cli default paging enable\r');
  t.equal(box().config.cliPaging, false);
  t.notMatch(await h.send('show images\r'), /lines \d/, 'off: this session follows the default');
  const other = await harness({ interactive: true, rows: 5, cluster: h.cluster });
  t.notMatch(await other.send('show images\r'), /lines \d/, 'off: a new session does not page');
  await other.send('cli session paging enable\r');
  t.match(await other.send('show images\r'), /lines 1-4$/, "the session's own setting wins");
  await other.send('q');
  await h.send('end\r');
  t.notMatch(await h.send('show running-config\r'), /lines \d/);
  const rc = await h.s.runOnce('show running-config');
  t.match(rc, /^no cli default paging enable$/m, 'shown in the running config when off');
  t.notMatch(await h.s.runOnce('show running-config full'), /^cli default paging enable$/m);
  await h.send('write memory\r');
  t.equal(box().savedConfig.cliPaging, false, 'saved by write memory');
  await h.send('configure terminal\rcli default paging enable\rend\r');
  t.equal(box().config.cliPaging, undefined, 'on again: stored as absent (the default)');
  t.notMatch(await h.s.runOnce('show running-config'), /cli default paging/, 'the default is not listed');
  t.match(
    await h.s.runOnce('show running-config full'),
    /^cli default paging enable$/m,
    'full lists it at its default',
  );
});

t.test('Tab and ? offer the existing names where the grammar takes one', async (t) => {
  const h = await harness({ interactive: true });
  const admin = { user: 'admin', role: 'admin' as const, source: 'test' };
  const box = h.cluster.get(1);
  box.snmpSetTarget(admin, {
    host: '127.0.0.9',
    port: 162,
    kind: 'traps',
    version: '2c',
    community: 'c',
    ratePerSec: 100,
  });
  box.snmpSetTarget(admin, {
    host: '127.0.0.88',
    port: 162,
    kind: 'traps',
    version: '2c',
    community: 'c',
    ratePerSec: 100,
  });
  await h.send('enable\rconfigure terminal\r');
  t.equal(
    await h.send('no crypto certificate name d\t'),
    'no crypto certificate name default-cert ',
    'a certificate name',
  );
  await h.send('\x03');
  t.match(
    await h.send('no crypto certificate name ?'),
    /\r\n {2}<name> +Certificate name[^\r]*\r\n {2}default-cert +existing\r\n/,
    '? lists the parameter, then the existing names',
  );
  await h.send('\x03');
  t.equal(await h.send('no username a\t'), 'no username admin ', 'a user name');
  await h.send('\x03');
  t.match(await h.send('no username \t'), /\r\n {2}admin\r\n/, 'Tab after the blank lists the names');
  await h.send('\x03');
  t.match(
    await h.send('no snmp-server host 127.0.0.\t'),
    /^no snmp-server host 127\.0\.0\.\r\n {2}127\.0\.0\.88 +127\.0\.0\.9\r\n/,
    'two hosts share the prefix typed: both listed',
  );
  t.equal(await h.send('8\t'), '88 ', 'then one');
  await h.send('\x03');
  t.equal(await h.send('web https certificate name default\t'), 'web https certificate name default-cert ');
  await h.send('\x03');
  t.equal(
    await h.send('crypto certificate ca-list default-ca-list name zz\t'),
    'crypto certificate ca-list default-ca-list name zz',
    'no such name: nothing',
  );
  await h.send('\x03');
  t.equal(
    await h.send('configuration switch-to i\t'),
    'configuration switch-to initial ',
    'a configuration file',
  );
  await h.send('\x03');
  t.match(await h.send('image install \t'), /\r\n {2}image-gvos-[\d.]+\.img\r\n/, 'the fetched image');
  await h.send('\x03');
  t.equal(await h.send('ho\t'), 'hostname ', 'keywords complete as before');
  await h.send('\x03');
  // A monitor sees no name of a command it may not use (the parameter is above its role).
  const mon = await harness({ interactive: true, role: 'monitor', cluster: h.cluster });
  await mon.send('enable\r');
  t.equal(await mon.send('show crypto certificate name d\t'), 'show crypto certificate name default-cert ');
  // Line mode: a line ending in ? lists the names too.
  const plain = await harness({ cluster: h.cluster });
  await plain.send('enable\rconfigure terminal\r');
  t.match(await plain.send('no username ?\n'), /^ {2}admin +existing$/m);
});

t.test('bounded input', async (t) => {
  const h = await harness();
  h.take();
  let out = await h.send('x'.repeat(MAX_LINE_BYTES + 1) + '\nshow version\n');
  t.match(
    out,
    new RegExp(`^\\n% Line too long \\(max ${MAX_LINE_BYTES} bytes\\)\\.\\nbox1 > \\nProduct name`),
    'an overlong line is refused, the next runs',
  );
  out = await h.send('y'.repeat(1024 * 1024) + '\r\n');
  t.match(out, /% Line too long/, '1 MiB line');
  t.ok(out.length < 200, 'nothing of the line comes back');
  await h.send('enable\nconf t\n');
  out = await h.send(
    'crypto certificate name big public-cert pem "' + 'A\n'.repeat(40_000) + '"\nshow web\n',
  );
  t.match(
    out,
    /% PEM value too long \(max 65536 bytes\); the command was discarded\.\n[^\n]*\nWeb HTTPS certificate/,
    'an overlong PEM is refused up to its closing quote',
  );
  out = await h.send(
    'crypto certificate name big public-cert pem "' + 'B'.repeat(MAX_PEM_BYTES + 10) + '"\n',
  );
  t.match(out, /% PEM value too long: at most 64 KiB\./, 'just over 64 KiB: the box refuses');
  out = await h.send('crypto certificate name c public-cert pem "-----BEGIN CERTIFICATE-----\nAAAA\n');
  t.equal(out, '', 'an open quote waits for more lines');
  out = await h.send('\x03show web\n');
  t.match(out, /^\nbox1 \(config\) # \nWeb HTTPS/, 'Ctrl-C leaves an unterminated quote');
});

t.test('binary garbage never breaks a session', async (t) => {
  const h = await harness();
  for (let i = 0; i < 4; i++) h.s.input(garbage(64 * 1024, `chunk-${i}`));
  h.s.input(Buffer.from([0xff, 0xfe, 0xc3]));
  await h.s.idle();
  const out = await h.send('\x03\nshow version\n');
  t.match(out, /Product name: +GigaVUE-OS/, 'the session still works');
  t.notOk(h.s.ended);
});

t.test('many kinds of garbage: the session either answers or has legitimately logged out', async (t) => {
  const { cluster } = await makeTestBox();
  let answered = 0;
  for (let i = 0; i < 60; i++) {
    const h = await harness({ cluster, interactive: i % 2 === 0 });
    h.s.input(garbage(16 * 1024, `seed-${i}`));
    const out = await h.send('\x03\rshow version\r');
    if (h.s.ended) continue;
    t.match(out, /Product name/, `seed ${i}`);
    answered++;
  }
  t.ok(answered > 50, `${answered} of 60 sessions answered after the garbage`);
});

t.test('commands run one at a time, in order', async (t) => {
  const { cluster, box } = await makeTestBox();
  const acme = new FakeAcme(() => cluster.get(1));
  acme.startDelayMs = 30;
  box.attachAcme(acme);
  const h = await harness({ cluster, startMode: 'enable' });
  h.take();
  const out = await h.send(
    'configure terminal\nip name-server 10.0.0.53\ncrypto certificate acme issue domain a.lab.test acme-server https://ca.lab.test/dir\nshow crypto acme client info\nhostname after\n',
  );
  const issued = out.indexOf('Issuance in progress.');
  const info = out.indexOf('Request-Status         : In Progress');
  t.ok(issued > 0 && info > issued, 'the status shows after the issue answered');
  t.match(out, /after \(config\) # $/, 'the last line ran last');

  // Input typed while a command runs waits, and too much of it is dropped with a notice.
  acme.startDelayMs = 50;
  await acmePortOf(cluster.get(1)).acmeFinish('Success');
  h.s.input('crypto certificate acme issue domain b.lab.test acme-server https://ca.lab.test/dir\n');
  h.s.input('z'.repeat(MAX_PENDING_CHARS + 1));
  h.s.input('\x03show version\n');
  await h.s.idle();
  const o2 = h.take();
  t.match(o2, /% Input discarded: more than \d+ characters typed ahead\./);
  t.match(o2, /Issuance in progress[\s\S]*Product name/, 'the session goes on');
});

t.test('end of input', async (t) => {
  const h = await harness();
  h.take();
  h.s.input('show version');
  h.s.inputEnd();
  await h.s.idle();
  t.match(h.take(), /Product name/, 'a last line without newline runs');
  t.ok(h.closed(), 'then the session closes');

  const q = await harness();
  q.s.input('enable\nconf t\ncrypto certificate name c public-cert pem "abc\n');
  q.s.inputEnd();
  await q.s.idle();
  t.match(q.take(), /% Missing closing quote: the command was discarded at the end of input\.\n$/);
  t.ok(q.closed());
  t.equal(q.s.failures, 1);
});

t.test('the peer leaving mid-command', async (t) => {
  const { cluster, box } = await makeTestBox();
  const acme = new FakeAcme(() => cluster.get(1));
  acme.startDelayMs = 30;
  box.attachAcme(acme);
  box.addNameServer({ user: 'admin', role: 'admin', source: 't' }, '10.0.0.53');
  let writes = 0;
  const s = new Session({
    cluster,
    boxId: 1,
    user: 'admin',
    role: 'admin',
    source: 't',
    interactive: false,
    startMode: 'enable',
    write: () => writes++,
    close: () => undefined,
  });
  s.input('conf t\ncrypto certificate acme issue domain a.lab.test acme-server https://ca.lab.test/dir\n');
  await new Promise((r) => setTimeout(r, 5));
  s.end();
  const before = writes;
  await new Promise((r) => setTimeout(r, 60));
  t.equal(writes, before, 'nothing is written after end()');
  t.equal(acme.requests.length, 1, 'the command still completed');

  let calls = 0;
  const broken = new Session({
    cluster,
    boxId: 1,
    user: 'admin',
    role: 'admin',
    source: 't',
    interactive: false,
    write: () => {
      calls++;
      throw new Error('EPIPE');
    },
    close: () => undefined,
  });
  broken.start();
  broken.input('show version\n');
  await broken.idle();
  t.ok(broken.ended, 'a failing write ends the session quietly');
  t.equal(calls, 1);
});

t.test('runOnce (exec channels)', async (t) => {
  const h = await harness({ startMode: 'enable' });
  h.take();
  t.match(
    await h.s.runOnce('show running-config'),
    /^##\n## Running configuration of box-id 1/,
    'starts in enable mode, no prompt',
  );
  t.equal(h.take(), '', 'nothing goes through write');
  const out = await h.s.runOnce('configure terminal\nhostname ex1\nshow ?\nfoo');
  t.match(
    out,
    /^ {2}card +The cards[\s\S]*\n {2}chassis +The boxes[\s\S]*\n {2}version +Firmware[\s\S]*% Unrecognized command "foo"\.\nType "\?" for help\.\n$/,
  );
  t.equal(h.cluster.get(1).hostname, 'ex1');
  t.equal(h.s.failures, 1);
  t.match(await h.s.runOnce('x'.repeat(MAX_LINE_BYTES + 1)), /^% Line too long/);
  const pty = await harness({ startMode: 'enable', interactive: true });
  t.match(await pty.s.runOnce('show version'), /\r\nProduct model/, 'CR LF with a pty');
  t.match(await pty.s.runOnce('exit\nexit\nshow version'), /^$/, 'stops after the session exits');
});

t.test('box-id is resolved when the command runs', async (t) => {
  const { cluster } = await makeTestBox();
  await makeTestBox({ boxId: 2, cluster, hostname: 'old2' });
  const h = await harness({ cluster, startMode: 'enable' });
  t.match(await h.s.runOnce('show chassis box-id 2'), /Box ID +: 2\n +Hostname +: old2\n/);
  // A reload replaces the Box object in the cluster: the next command sees the new one.
  await makeTestBox({ boxId: 2, cluster, hostname: 'new2' });
  t.match(await h.s.runOnce('show chassis box-id 2'), /Box ID +: 2\n +Hostname +: new2\n/);
  await makeTestBox({ boxId: 1, cluster, hostname: 'new1' });
  t.equal(h.s.prompt(), 'new1 # ', 'the prompt reads the new box');
  cluster.delete(1);
  t.equal(h.s.prompt(), 'new1 # ', 'while the box is away the last name stays');
  t.equal(await h.s.runOnce('show version'), '% No box with box-id 1 in the cluster (box-ids: 2).\n');
  t.equal(
    await h.s.runOnce('show chassis box-id 9'),
    '% No box with box-id 9 in the cluster (box-ids: 2).\n',
  );
});

t.test('a command of another mode says where it works; ambiguous words list the candidates', async (t) => {
  const h = await harness();
  h.take();
  t.equal(
    await h.send('configure terminal\n'),
    '\n% Unrecognized command "configure".\n"configure" is a command of enable mode: type "enable" first.\nbox1 > ',
  );
  t.match(
    await h.send('hostname x\n'),
    /% Unrecognized command "hostname"\.\n"hostname" is a command of config mode: type "enable", then "configure terminal" first\.\n/,
  );
  t.match(
    await h.send('frobnicate\n'),
    /% Unrecognized command "frobnicate"\.\nType "\?" for help\.\n/,
    'no hint for an unknown word',
  );
  t.match(
    await h.send('show c\n'),
    /^\n% Ambiguous command "c"\.\n {2}card +The cards[^\n]*\n {2}chassis [^\n]*\n {2}clock [^\n]*\n {2}configuration [^\n]*\n {2}crypto [^\n]*\nbox1 > $/,
  );
  t.equal(await h.send('quit\n'), '\n', 'quit logs out from any mode');
  t.ok(h.closed());
  const l = await harness({ startMode: 'enable' });
  l.take();
  await l.send('configure terminal\n');
  t.equal(await l.send('logout\n'), '\n', 'logout from config mode');
  t.ok(l.closed());
});

t.test('show history: the session history, secrets masked', async (t) => {
  const h = await harness({ startMode: 'enable' });
  h.take();
  await h.send('show version\nconfigure terminal\nusername bob password s3cret-pw\n');
  await h.send('snmp-server host 10.0.0.9 traps version 2c my-community\n');
  const out = await h.send('show history\n');
  t.equal(
    out,
    [
      '',
      '  1  show version',
      '  2  configure terminal',
      '  3  username bob password ********',
      '  4  snmp-server host 10.0.0.9 traps version 2c ********',
      '  5  show history',
      'box1 (config) # ',
    ].join('\n'),
  );
  t.notMatch(out, /s3cret|my-community/);
});
