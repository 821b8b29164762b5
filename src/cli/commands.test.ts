/**
 * Every command's happy path and its errors, through a Session (the exec
 * form: output without prompts), on in-process boxes with fake ACME and SNMP
 * ports. Dates render in UTC here (TZ is set before any date is formatted).
 */
process.env.TZ = 'UTC';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Cluster } from '../device/cluster.js';
import type { Role } from '../device/roles.js';
import type { CryptoMode } from '../device/model.js';
import { ManualClock } from '../lib/clock.js';
import { generateKeyPair } from '../pki/keys.js';
import { createSelfSigned } from '../pki/self-signed.js';
import { makeTestBox, TEST_PASSWORD, acmePortOf } from '../../test/harness/boxes.js';
import { Session } from './session.js';
import { ALL_COMMANDS } from './commands/index.js';
import { completeIssue, FakeAcme, FakeSnmp } from '../../test/harness/cli-fakes.js';

interface Lab {
  cluster: Cluster;
  clock: ManualClock;
  acme: FakeAcme;
  acme2: FakeAcme;
  /** Run a script in a new session (enable mode) on box 1 (or `boxId`), as `role`. */
  run(script: string, role?: Role, boxId?: number): Promise<string>;
  /** The same, in config mode. */
  conf(script: string, role?: Role): Promise<string>;
}

async function lab(cryptoMode: CryptoMode = 'secure-crypto'): Promise<Lab> {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const { cluster, box } = await makeTestBox({ clock, cryptoMode });
  await makeTestBox({ boxId: 2, cluster, clock });
  const acme = new FakeAcme(() => cluster.get(1));
  const acme2 = new FakeAcme(() => cluster.get(2));
  box.attachAcme(acme);
  cluster.get(2).attachAcme(acme2);
  const run = (script: string, role: Role = 'admin', boxId = 1) =>
    new Session({
      cluster,
      boxId,
      user: role === 'admin' ? 'admin' : role,
      role,
      source: 'test',
      interactive: false,
      startMode: 'enable',
      write: () => undefined,
      close: () => undefined,
    }).runOnce(script);
  return { cluster, clock, acme, acme2, run, conf: (s, role) => run('configure terminal\n' + s, role) };
}

const DENIED = '% Permission denied.\n';

t.test('system', async (t) => {
  const l = await lab();
  const box = () => l.cluster.get(1);
  t.equal(await l.conf('hostname edge1'), '');
  t.equal(box().hostname, 'edge1');
  t.equal(
    await l.conf('hostname -bad'),
    '% Invalid hostname "-bad": use 1-63 letters, digits or hyphens, not starting or ending with a hyphen.\n',
  );
  t.equal(
    await l.conf('ip name-server 10.0.0.53\nip name-server 10.0.0.54:5353\nip name-server 10.0.0.53'),
    '',
    'a name server twice is fine',
  );
  t.same(box().config.nameServers, ['10.0.0.53', '10.0.0.54:5353']);
  t.match(
    await l.conf('ip name-server dns.lab'),
    /^% Invalid name server "dns.lab": give an IPv4 or IPv6 address/,
  );
  t.equal(await l.conf('no ip name-server 10.0.0.54:5353'), '');
  t.equal(await l.conf('no ip name-server 10.9.9.9'), '% Name server "10.9.9.9" is not configured.\n');
  t.equal(await l.conf('ip domain-list Lab.Test'), '');
  t.same(box().config.domainList, ['lab.test']);
  t.equal(await l.conf('no ip domain-list other.test'), '% Domain "other.test" is not in the domain list.\n');
  t.equal(await l.conf('no ip domain-list lab.test'), '');

  t.equal(
    await l.conf('crypto mode fips'),
    'Crypto mode fips takes effect after "write memory" and "reload" (the box runs in secure-crypto mode until then).\n',
  );
  t.equal(await l.conf('crypto mode secure-crypto'), '', 'the running mode: nothing to say');
  t.equal(await l.conf('crypto mode fips', 'operator'), DENIED);

  l.clock.advance(((1 * 24 + 2) * 60 + 3) * 60_000 + 4_000);
  const v = await l.run('show version');
  for (const re of [
    /^Product name: +GigaVUE-OS$/m,
    /^Product release: +6\.5\.00$/m,
    /^Build ID: +#6500044$/m,
    /^Product model: +GigaVUE-HC2$/m,
  ])
    t.match(v, re);
  t.match(v, /^Host ID: +[0-9a-f]{12}$/m, 'Host ID: 12 hex digits, no colons');
  t.match(v, new RegExp(`^Host ID: +${box().identity.hostId.replace(/:/g, '')}$`, 'm'));
  t.match(v, /^Product hw: +gvhc2$/m);
  t.match(v, /^Target arch: +ppc$/m);
  t.match(v, /^System memory: +\d+ MB used \/ \d+ MB free \/ 3614 MB total$/m);
  t.match(v, /^Number of CPUs: +4$/m);
  t.match(v, new RegExp(`^System serial num: +${box().identity.serial}$`, 'm'));
  t.match(v, /^Uptime: +1d 2h 3m 4s$/m);
  const order = [
    'Product name',
    'Product release',
    'Build ID',
    'Build date',
    'Target arch',
    'Target hw',
    'Built by',
    'Version summary',
    'U-Boot version',
    'CPLD version',
    'TS version',
    'Product model',
    'Product hw',
    'Host ID',
    'Uptime',
    'CPU load averages',
    'Number of CPUs',
    'System memory',
    'Swap',
    'System serial num',
    'Crypto mode',
  ];
  t.same(
    v
      .split('\n')
      .filter((x) => x)
      .map((x) => x.split(':')[0]),
    order,
    'the real order; what only the simulator knows comes last',
  );
  t.match(await l.run('show version box-id 2'), /^Product release: +6\.5\.00$/m, 'show version box-id');

  const chassis = await l.run('show chassis');
  const blocks = chassis.trimEnd().split('\n\n');
  t.equal(blocks.length, 2, 'one block per chassis');
  t.match(
    blocks[0],
    /^Chassis:\n {8}Box ID +: 1\*\n {8}Hostname +: edge1\n {8}Config +: yes\n {8}Mode +: normal\n {8}Oper Status +: up\n {8}HW Type +: HC2-Chassis\n {8}Vendor +: Gigamon\n {8}Product Code +: 132-00AZ\n {8}Serial Num +: [0-9A-F]{8}\n {8}HW Rev +: n\/a\n {8}SW Rev +: 6\.5\.00$/,
  );
  t.match(blocks[1], /Box ID +: 2\n {8}Hostname +: box2\n/);
  const one = await l.run('show chassis box-id 2');
  t.notMatch(one, /Box ID +: 1/, 'only box 2');
  t.match(one, /Box ID +: 2/);
  t.equal(await l.run('show chassis box-id 7'), '% No box with box-id 7 in the cluster (box-ids: 1, 2).\n');
  const card = (await l.run('show card')).split('\n');
  t.match(card[0], /^Slot +Config +Oper Status +HW Type +Product Code +Serial Num +HW Rev$/);
  t.match(card[2], /^1\/cc1 +yes +up +HC2-Main-Board +132-00AN +[0-9A-F]{8} +n\/a$/);
  t.match(
    await l.run('show clock'),
    /^Time: +02:03:04\nDate: +2026\/01\/02\nTime zone: +\S+\n$/,
    'the box clock (advanced 1d 2h 3m 4s)',
  );

  // A member that goes down stays listed, down, with what was last known of it.
  const b2 = l.cluster.get(2);
  l.cluster.delete(2);
  t.match(
    await l.run('show chassis'),
    /Box ID +: 2\n {8}Hostname +: box2\n {8}Config +: yes\n {8}Mode +: normal\n {8}Oper Status +: down/,
  );
  t.match(await l.run('show card box-id 2'), /^2\/cc1 +yes +down /m);
  l.cluster.set(b2);
  t.match(await l.run('show chassis box-id 2'), /Oper Status +: up/);
  l.cluster.forget(2);
  t.notMatch(await l.run('show chassis'), /Box ID +: 2/, 'a removed member is gone');
  l.cluster.set(b2);

  t.ok(box().hasUnsavedChanges);
  t.equal(await l.run('write memory'), '');
  t.notOk(box().hasUnsavedChanges);
  t.equal(box().savedConfig.hostname, 'edge1');
  t.equal(await l.run('write memory', 'monitor'), DENIED);

  const reloads: number[] = [];
  box().events.on('reload-requested', (e) => reloads.push(e.boxId));
  l.cluster.get(2).events.on('reload-requested', (e) => reloads.push(e.boxId));
  t.equal(await l.run('reload'), 'Rebooting box-id 1 (edge1)...\n');
  await l.conf('hostname edge2');
  t.equal(
    await l.run('reload'),
    'Warning: box-id 1 has unsaved changes; they are lost ("write memory" saves them).\nRebooting box-id 1 (edge2)...\n',
  );
  t.equal(await l.run('reload box-id 2', 'operator'), 'Rebooting box-id 2 (box2)...\n');
  t.same(reloads, [1, 1, 2]);
  t.equal(await l.run('reload', 'monitor'), DENIED);
});

t.test('every per-box show takes box-id and shows that box (box 2 of two)', async (t) => {
  // Shows of the session itself, not of a box.
  const SESSION_SHOWS = ['show history'];
  for (const c of ALL_COMMANDS.filter((x) => x.syntax.startsWith('show '))) {
    if (SESSION_SHOWS.includes(c.syntax)) continue;
    t.match(c.syntax, /\[box-id <box-id:int:/, `${c.syntax}: box-id`);
  }
  const l = await lab();
  const admin = { user: 'admin', role: 'admin' as const, source: 'test' };
  const b2 = l.cluster.get(2);
  b2.snmpSetLocation(admin, 'rack 2, row B');
  b2.snmpSetTarget(admin, {
    host: '127.0.0.222',
    port: 1162,
    kind: 'traps',
    version: '2c',
    community: 'c2',
    ratePerSec: 100,
  });
  b2.snmpSetEvent(admin, 'cold-start', false);
  await b2.imageFetch(admin, 'image-gvos-5.13.01.img');
  const fp = (n: number) => l.cluster.get(n).certificate('default-cert').facts.sha1Fingerprint;
  t.not(fp(1), fp(2), 'the boxes have different default certificates');
  const cases: [string, RegExp][] = [
    ['show web', new RegExp(`SHA-1 fingerprint: +${fp(2)}`)],
    ['show crypto certificate', new RegExp(fp(2))],
    ['show crypto certificate name default-cert', new RegExp(fp(2))],
    ['show images', /^ +image-gvos-5\.13\.01\.img +\(5\.13\.01\)$/m],
    ['show snmp', /rack 2, row B/],
    ['show snmp host', /127\.0\.0\.222/],
    ['show snmp events', /cold-start +no/],
  ];
  for (const [cmd, re] of cases) {
    t.match(await l.run(`${cmd} box-id 2`, 'monitor'), re, `${cmd} box-id 2: box 2's`);
    t.notMatch(await l.run(cmd, 'monitor'), re, `${cmd}: the session's box`);
  }
  // Any per-box show with box-id 2, from box 1, prints what the same show prints on box 2 itself.
  // (show chassis and show card list the cluster, or with box-id one member: tested in 'system'.)
  const CLUSTER_WIDE = ['show chassis', 'show card'];
  const LOAD = /^CPU load averages:.*$/m; // the host's, read at each call
  for (const c of ALL_COMMANDS.filter((x) => x.syntax.includes('[box-id <box-id:'))) {
    if (!c.modes.includes('enable')) continue;
    const cmd = c.syntax.split(' [')[0]!;
    if (!cmd.startsWith('show ') || CLUSTER_WIDE.includes(cmd)) continue;
    const viaBoxId = await l.run(`${cmd} box-id 2`, 'monitor');
    const onBox2 = await l.run(cmd, 'monitor', 2);
    t.equal(viaBoxId.replace(LOAD, ''), onBox2.replace(LOAD, ''), `${cmd} box-id 2`);
  }
  t.match(await l.run('show crypto certificate ca-list box-id 9'), /^% No box with box-id 9 in the cluster/);
});

t.test(
  'configuration files: upload active, fetch, switch-to, delete, show configuration files',
  async (t) => {
    const l = await lab();
    const dir = mkdtempSync(join(tmpdir(), 'gvos-cfg-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const box = () => l.cluster.get(1);
    await l.conf('hostname saved-1\nsnmp-server location "row 1"\nsnmp-server community s3cret-c ro');
    await l.run('write memory');
    await l.conf('hostname unsaved-2');
    const url = `file://${dir}/backup.json`;
    t.equal(
      await l.conf(`configuration upload active ${url}`),
      `Uploaded the active configuration to ${dir}/backup.json (mode 0600: it holds the users' password hashes and the SNMP secrets).\n`,
    );
    t.equal(statSync(`${dir}/backup.json`).mode & 0o777, 0o600, 'the file is 0600');
    const text = readFileSync(`${dir}/backup.json`, 'utf8');
    t.match(text, /"hostname": "saved-1"/, 'the saved configuration, not the unsaved change');
    t.notMatch(text, new RegExp(TEST_PASSWORD), 'no password, only its hash');
    t.notMatch(text, /BEGIN/, 'no certificate or key');
    t.equal(await l.conf(`configuration upload active ${url}`, 'operator'), DENIED, 'admin only');
    t.equal(await l.conf(`configuration fetch ${url}`, 'operator'), DENIED);
    t.equal(await l.conf('configuration switch-to backup.json', 'operator'), DENIED);

    await l.conf('hostname changed-3\nno snmp-server location\nno cli default paging enable');
    await l.run('write memory');
    t.equal(box().savedConfig.hostname, 'changed-3');
    t.equal(
      await l.conf(`configuration fetch ${url}`),
      'Fetched configuration file "backup.json"; make it active with "configuration switch-to backup.json".\n',
    );
    t.equal(
      await l.conf(`configuration fetch ${url} restore1`),
      'Fetched configuration file "restore1"; make it active with "configuration switch-to restore1".\n',
    );
    t.equal(
      await l.run('show configuration files', 'monitor'),
      'initial (active)\nbackup.json\nrestore1\n\nActive configuration: initial\nUnsaved changes: no\n',
    );
    t.equal(
      await l.conf('configuration switch-to restore1'),
      'Switched to configuration file "restore1": it is the saved and the running configuration.\n',
    );
    t.equal(box().hostname, 'saved-1', 'running');
    t.equal(box().savedConfig.hostname, 'saved-1', 'saved: a reload comes back with it');
    t.equal(box().config.snmp.location, 'row 1');
    t.same(box().config.snmp.communities, ['s3cret-c'], 'the SNMP secret came back');
    t.equal(box().config.cliPaging, undefined);
    t.equal(await box().authenticate('admin', TEST_PASSWORD), 'admin', 'the password hash came back');
    t.equal(
      await l.run('show configuration files'),
      'restore1 (active)\nbackup.json\ninitial\n\nActive configuration: restore1\nUnsaved changes: no\n',
      'the old active file is kept',
    );
    t.equal(
      await l.conf('configuration switch-to initial'),
      'Switched to configuration file "initial": it is the saved and the running configuration.\n',
    );
    t.equal(box().hostname, 'changed-3', 'and back');
    t.match(
      await l.conf('configuration delete initial'),
      /^% "initial" is the active configuration file; switch to another one first/,
    );
    t.equal(await l.conf('configuration delete backup.json'), '');
    t.match(
      await l.conf('configuration switch-to backup.json'),
      /^% No configuration file "backup.json" \(files: initial, restore1\)\.$/m,
    );
    t.match(
      await l.conf(`configuration fetch ${url} initial`),
      /^% "initial" is the active configuration file; fetch under another name/,
    );
    t.match(
      await l.conf(`configuration fetch ${url} "bad name"`),
      /^% Invalid configuration file name "bad name"/,
    );
    t.match(
      await l.conf('configuration fetch http://127.0.0.1/x.json'),
      /^% Give a file:\/\/\/<absolute path> URL/,
    );
    t.match(
      await l.conf(`configuration fetch file://${dir}/none.json`),
      /^% Cannot read .*none\.json: no such file\.$/m,
    );
    t.match(await l.run('show configuration files box-id 2'), /^initial \(active\)$/m);
    const n = box().configFiles().length;
    for (let i = 0; i < 20; i++) await l.conf(`configuration fetch ${url} f${i}`);
    t.equal(box().configFiles().length, 16, `at most 16 files (had ${n})`);
    t.match(await l.conf(`configuration fetch ${url} one-more`), /^% At most 16 configuration files/);
  },
);

t.test('users', async (t) => {
  const l = await lab();
  const box = () => l.cluster.get(1);
  t.equal(await l.conf('username op password "op pass 1"'), '');
  t.equal(await box().authenticate('op', 'op pass 1'), 'monitor', 'a new user is a monitor');
  t.equal(await l.conf('username op capability operator'), '');
  t.equal(await box().authenticate('op', 'op pass 1'), 'operator');
  t.equal(
    await l.conf('username ghost capability admin'),
    '% User "ghost" does not exist; set a password first with "username ghost password <p>".\n',
  );
  t.equal(await l.conf('no username admin'), '% Cannot delete the user you are logged in as.\n');
  t.equal(await l.conf('username op password x', 'operator'), DENIED);
  t.equal(await l.conf('username x password ""'), '% Empty passwords are not allowed.\n');
  const rc = await l.run('show running-config');
  t.match(rc, /^username op password \*{8}\nusername op capability operator$/m);
  t.notMatch(rc, /op pass 1|scrypt/, 'no password or hash');
  t.equal(await l.conf('no username op'), '');
  t.equal(await box().authenticate('op', 'op pass 1'), null);
  t.equal(await l.conf('no username op'), '% User "op" does not exist.\n');
});

t.test('firmware images', async (t) => {
  const l = await lab();
  t.equal(
    await l.conf('image fetch https://downloads.lab.test/image-gvos-5.13.01.img'),
    'Fetched image-gvos-5.13.01.img (version 5.13.01). Install it with "image install image-gvos-5.13.01.img".\n',
  );
  t.match(
    await l.conf('image fetch nothing.img'),
    /^% No firmware image "nothing\.img"; available: image-gvos-5\.12\.00\.img/,
  );
  t.equal(
    await l.conf('image install image-gvos-5.12.00.img'),
    '% Image "image-gvos-5.12.00.img" has not been fetched; use "image fetch image-gvos-5.12.00.img" first.\n',
  );
  t.equal(await l.conf('image boot next'), '% No image installed; use "image install <file>" first.\n');
  t.equal(
    await l.conf('image install image-gvos-5.13.01.img'),
    'Installed image-gvos-5.13.01.img (version 5.13.01). Use "image boot next" to boot it at the next reload.\n',
  );
  t.equal(
    await l.conf('image boot next'),
    'Next boot: version 5.13.01 (image-gvos-5.13.01.img). It runs after "reload".\n',
  );
  const shown = await l.run('show images');
  t.match(shown, /^Installed image: +5\.13\.01 \(image-gvos-5\.13\.01\.img\)$/m);
  t.match(shown, /^Next boot: +5\.13\.01 \(image-gvos-5\.13\.01\.img\)$/m);
  t.match(shown, /^ {2}image-gvos-5\.13\.01\.img {2}\(5\.13\.01\)$/m);
  t.equal(await l.conf('image fetch image-gvos-6.5.00.img', 'operator'), DENIED);
  t.match(await l.run('show images', 'monitor'), /Running version/);
});

/** A certificate and its key (self-signed, EC P-256). */
async function certAndKey(cn: string): Promise<{ cert: string; key: string }> {
  const k = await generateKeyPair('prime256v1');
  const cert = await createSelfSigned({
    privateKeyPem: k.privateKeyPem,
    keyAlgorithm: 'prime256v1',
    commonName: cn,
    altNames: [cn],
    notBeforeMs: Date.UTC(2026, 0, 1),
    validDays: 30,
  });
  return { cert, key: k.privateKeyPem };
}

t.test('certificates, CA list and web', async (t) => {
  const l = await lab();
  const ca = await certAndKey('lab-root');
  const other = await certAndKey('other');
  t.equal(
    await l.conf(`crypto certificate name lab-root public-cert pem "${ca.cert}"`),
    '',
    'a PEM spanning lines',
  );
  t.equal(
    await l.conf(`crypto certificate name lab-root public-cert pem "${ca.cert}"`),
    '% Certificate "lab-root" already exists; remove it first with "no crypto certificate name lab-root".\n',
  );
  let shown = await l.run('show crypto certificate name lab-root');
  t.match(shown, /^Certificate with name 'lab-root'$/m);
  t.match(shown, /^ {2}Subject: +CN=lab-root, O=Gigamon \(simulated\)$/m);
  t.match(shown, /^ {2}Serial number: +0x[0-9A-F]+$/m);
  t.match(shown, /^ {2}SHA-1 fingerprint: +([0-9A-F]{2}:){19}[0-9A-F]{2}$/m);
  t.match(shown, /^ {2}Validity expires: +2026\/01\/31 00:00:00$/m);
  t.match(shown, /^ {2}Key type: +EC \(prime256v1\)$/m);
  t.match(shown, /^ {2}Key size: +256 bits$/m);
  t.match(shown, /^ {2}Private key: +none$/m);
  t.equal(
    await l.conf(`crypto certificate name lab-root private-key pem "${other.key}"`),
    '% The private key does not match certificate "lab-root"; nothing was changed.\n',
  );
  t.equal(await l.conf(`crypto certificate name lab-root private-key pem "${ca.key}"`), '');
  shown = await l.run('show crypto certificate');
  t.match(shown, /^ {2}Private key: +present \(never shown\)$/m);
  t.match(shown, /^Certificate with name 'default-cert'$/m, 'the list has every certificate');
  t.notMatch(shown, /PRIVATE KEY|BEGIN/, 'no PEM at all');
  t.equal(await l.run('show crypto certificate name nope'), '% Certificate "nope" not found.\n');

  t.equal(
    await l.run('show crypto certificate ca-list'),
    'The default CA list is empty; add one with "crypto certificate ca-list default-ca-list name <name>".\n',
  );
  t.equal(await l.conf('crypto certificate ca-list default-ca-list name lab-root'), '');
  t.match(
    await l.run('show crypto certificate ca-list'),
    /^Default CA list:\n {2}Name +Subject +Expires +SHA-1 fingerprint\n {2}-+.*\n {2}lab-root +CN=lab-root, O=Gigamon \(simulated\) +2026\/01\/31 00:00:00 /,
  );
  t.equal(
    await l.conf('no crypto certificate name lab-root'),
    '% Certificate "lab-root" is in the CA list; remove it first ("no crypto certificate ca-list default-ca-list name lab-root").\n',
  );
  t.equal(
    await l.conf('crypto certificate ca-list default-ca-list name nope'),
    '% Certificate "nope" not found; add it with "crypto certificate name nope public-cert pem ..." first.\n',
  );

  t.equal(await l.conf('web https certificate name lab-root'), '');
  t.match(
    await l.run('show web'),
    /^Web HTTPS certificate: +lab-root\nCertificate origin: +user\nManaged by ACME: +no\n/,
  );
  const rc = await l.run('show running-config');
  t.match(rc, /^crypto certificate ca-list default-ca-list name lab-root$/m);
  t.match(rc, /^web https certificate name lab-root$/m);
  t.notMatch(rc, /BEGIN/, 'no PEM in the running config');
  t.equal(await l.conf(`crypto certificate name nokey public-cert pem "${other.cert}"`), '');
  t.equal(
    await l.conf('web https certificate name nokey'),
    '% Certificate "nokey" has no private key; add it with "crypto certificate name nokey private-key pem ...".\n',
  );
  t.equal(await l.conf('web https certificate default-cert'), '');
  t.match(await l.run('show web'), /^Web HTTPS certificate: +default-cert$/m);
  t.equal(
    await l.conf(
      'no crypto certificate ca-list default-ca-list name lab-root\nno crypto certificate name lab-root',
    ),
    '',
  );
  t.equal(
    await l.conf('no crypto certificate name default-cert'),
    '% The default certificate cannot be deleted.\n',
  );
  t.equal(
    await l.conf(`crypto certificate name default-cert public-cert pem "${other.cert}"`),
    '% The name "default-cert" is reserved; choose another.\n',
  );
  t.match(await l.conf('crypto certificate name junk public-cert pem "not a pem"'), /^% /);
  // A monitor never reaches config mode: the first line is refused, the next is unknown in enable mode.
  t.match(
    await l.conf(`crypto certificate name x public-cert pem "${other.cert}"`, 'monitor'),
    /^% Permission denied\.\n% Unrecognized command "crypto"\./,
  );
  t.match(await l.run('show crypto certificate', 'monitor'), /default-cert/);
});

t.test('ACME', async (t) => {
  const l = await lab();
  const box = () => l.cluster.get(1);
  const issue =
    'crypto certificate acme issue domain box1.lab.test acme-server https://ca.lab.test:14000/dir';
  t.equal(
    await l.conf(issue),
    '% No name server configured; add one with "ip name-server <ip>" (DNS is an ACME prerequisite).\n',
  );
  await l.conf('ip name-server 10.0.0.53');
  t.equal(
    await l.conf(issue + ' key-algorithm rsa-2048'),
    '% Key algorithm rsa-2048 is not allowed in secure-crypto mode; use prime256v1 or secp384r1.\n',
  );
  t.equal(
    await l.conf(issue + ' key-algorithm ec-secp384r1 renew-days 30'),
    'Issuance in progress. Check status using "show crypto acme client info box-id 1".\n',
  );
  t.match(l.acme.requests[0], {
    type: 'Issue',
    domain: 'box1.lab.test',
    directoryUrl: 'https://ca.lab.test:14000/dir',
    keyAlgorithm: 'secp384r1',
    renewDays: 30,
  });
  t.match(
    await l.run('show crypto acme client info'),
    /Request-Status +: In Progress\n {2}Type of Request +: Issue\n$/,
  );
  t.equal(
    await l.conf(issue),
    '% An ACME issue is already in progress on box 1; wait for it ("show crypto acme client info box-id 1").\n',
  );
  await acmePortOf(box()).acmeFinish('Failed', 'the CA refused the order');
  t.match(
    await l.run('show crypto acme client info'),
    /Request-Status +: Failed: the CA refused the order\n/,
  );
  t.equal(
    await l.conf(issue + ' renew-days 10 key-algorithm prime256v1'),
    'Issuance in progress. Check status using "show crypto acme client info box-id 1".\n',
    'options in the other order',
  );
  t.match(l.acme.requests[1], { keyAlgorithm: 'prime256v1', renewDays: 10 });
  await acmePortOf(box()).acmeFinish('Failed', 'x');
  t.equal(
    await l.conf(
      issue.replace(
        'issue',
        'issue csr "-----BEGIN CERTIFICATE REQUEST-----\nAA\n-----END CERTIFICATE REQUEST-----"',
      ),
    ),
    '% Issuing from a CSR is not supported; the box generates its own key.\n',
  );
  t.equal(
    await l.conf('crypto certificate acme issue domain a.lab.test,b.lab.test acme-server https://ca/dir'),
    '% Only one domain is allowed: an ACME certificate covers a single name (no Subject Alt Names).\n',
  );
  t.equal(
    await l.conf('crypto certificate acme issue domain *.lab.test acme-server https://ca/dir'),
    '% Wildcard domain "*.lab.test" is not supported: give one host name or IP address.\n',
  );
  t.match(
    await l.conf('crypto certificate acme issue domain a.lab.test acme-server http://ca/dir'),
    /^% Invalid acme-server "http:\/\/ca\/dir": the ACME directory must be an https:\/\/ URL/,
  );
  t.equal(
    await l.conf('crypto certificate acme renew domain box1.lab.test'),
    '% No ACME issued certificate to renew; issue one first.\n',
  );
  t.equal(await l.conf('crypto certificate acme clear'), '% No ACME issued certificate to clear.\n');
  t.equal(await l.conf(issue, 'operator'), DENIED);
  t.equal(await l.conf('crypto certificate acme clear', 'operator'), DENIED);

  await completeIssue(box(), 'box1.lab.test', 'https://ca.lab.test:14000/dir', l.clock.now());
  t.match(
    await l.run('show crypto acme client info'),
    /^https:\n {2}Domain +: box1\.lab\.test\n {2}Cert Name +: acme-https\.crt$/m,
  );
  t.equal(
    await l.conf('web https certificate default-cert'),
    '% The web certificate is managed by ACME; clear it first with "crypto certificate acme clear".\n',
  );
  t.equal(
    await l.conf('crypto certificate acme renew domain other.lab.test'),
    '% Domain "other.lab.test" does not match the ACME certificate\'s domain "box1.lab.test".\n',
  );
  t.equal(
    await l.conf('crypto certificate acme renew domain box1.lab.test'),
    'Renewal in progress. Check status using "show crypto acme client info box-id 1".\n',
  );
  await acmePortOf(box()).acmeFinish('Success');
  t.equal(
    await l.conf('crypto certificate acme revoke domain box1.lab.test key-compromise'),
    'Revocation in progress. Check status using "show crypto acme client info box-id 1".\n',
  );
  t.match(l.acme.requests.at(-1), { type: 'Revoke', revocationReason: 'key-compromise' });
  await acmePortOf(box()).acmeFinish('Success');
  await l.conf('crypto certificate acme revoke domain box1.lab.test');
  t.match(l.acme.requests.at(-1), { type: 'Revoke', revocationReason: 'superseded' });
  await acmePortOf(box()).acmeFinish('Success');
  t.equal(
    await l.conf('crypto certificate acme clear'),
    'ACME certificate cleared on box-id 1; the web server uses the default certificate.\n',
  );
  t.equal(l.acme.cleared, 1);
  t.match(await l.run('show crypto acme client info'), /^No ACME issued certificate\.$/m);

  // Another box of the cluster by box-id: its own prerequisites, its own agent.
  t.equal(
    await l.conf(issue.replace('issue', 'issue box-id 2')),
    '% No name server configured; add one with "ip name-server <ip>" (DNS is an ACME prerequisite).\n',
  );
  l.cluster.get(2).addNameServer({ user: 'admin', role: 'admin', source: 't' }, '10.0.0.53');
  t.equal(
    await l.conf(issue.replace('issue', 'issue box-id 2')),
    'Issuance in progress. Check status using "show crypto acme client info box-id 2".\n',
  );
  t.equal(l.acme2.requests.length, 1);
  t.match(await l.run('show crypto acme client info box-id 2', 'monitor'), /^Box Id 2:\n/);
  t.equal(
    await l.conf(issue.replace('issue', 'issue box-id 5')),
    '% No box with box-id 5 in the cluster (box-ids: 1, 2).\n',
  );
});

t.test('ACME needs firmware 5.13.01', async (t) => {
  const { cluster } = await makeTestBox({ firmware: '5.13.00' });
  cluster.get(1).addNameServer({ user: 'admin', role: 'admin', source: 't' }, '10.0.0.53');
  const s = new Session({
    cluster,
    boxId: 1,
    user: 'admin',
    role: 'admin',
    source: 't',
    interactive: false,
    startMode: 'enable',
    write: () => undefined,
    close: () => undefined,
  });
  t.equal(
    await s.runOnce('conf t\ncrypto certificate acme issue domain a.lab.test acme-server https://ca/dir'),
    '% ACME needs firmware 5.13.01 or later; this box runs 5.13.00. Upgrade with "image fetch/install" and reload.\n',
  );
});

t.test('SNMP', async (t) => {
  const l = await lab();
  const box = () => l.cluster.get(1);
  t.equal(await l.run('show snmp engineID'), 'Local SNMP engineID: n/a (SNMP is not running on this box)\n');
  t.equal(await l.conf('snmp-server notify send-test'), '% SNMP is not available on this box.\n');
  const setup = [
    'snmp-server enable',
    'snmp-server enable notify',
    'snmp-server host 10.0.0.5 traps version 2c public',
    'snmp-server host 10.0.0.6 port 1162 informs version 2c "secret comm" rate 5',
    'snmp-server user u1 v3 auth sha256 authpass1 priv aes-128 privpass1',
    'snmp-server user u2 v3',
    'snmp-server host 10.0.0.7 traps version 3 user u1',
    'no snmp-server notify event cold-start',
    'snmp-server notify expiring-soon-days 14',
  ];
  t.equal(await l.conf(setup.join('\n')), '');
  const c = box().config.snmp;
  t.equal(c.targets.length, 3);
  t.match(c.targets[1], {
    host: '10.0.0.6',
    port: 1162,
    kind: 'informs',
    version: '2c',
    community: 'secret comm',
    ratePerSec: 5,
  });
  t.match(c.targets[2], {
    host: '10.0.0.7',
    port: 162,
    kind: 'traps',
    version: '3',
    user: 'u1',
    ratePerSec: 100,
  });
  t.same(c.users[0], {
    name: 'u1',
    auth: { protocol: 'sha256', password: 'authpass1' },
    priv: { protocol: 'aes-128', password: 'privpass1' },
  });
  t.notOk(c.events.includes('cold-start'));

  const rc = await l.run('show running-config');
  const snmpSection = rc.slice(rc.indexOf('## SNMP'));
  t.equal(
    snmpSection,
    [
      '## SNMP',
      '##',
      'snmp-server enable',
      'snmp-server enable notify',
      'snmp-server user u1 v3 auth sha256 ******** priv aes-128 ********',
      'snmp-server user u2 v3',
      'snmp-server host 10.0.0.5 traps version 2c ********',
      'snmp-server host 10.0.0.6 port 1162 informs version 2c ******** rate 5',
      'snmp-server host 10.0.0.7 traps version 3 user u1',
      'no snmp-server notify event cold-start',
      'snmp-server notify expiring-soon-days 14',
      '',
    ].join('\n'),
  );
  t.notMatch(rc, /public|secret comm|authpass1|privpass1/, 'no community or passphrase');

  let hosts = await l.run('show snmp host');
  t.match(
    hosts,
    /^10\.0\.0\.5 +162 +n\/a +traps +2c +\*{8} +100 +n\/a +n\/a +n\/a +n\/a +n\/a$/m,
    'n/a without a notifier',
  );
  const snmp = new FakeSnmp(box);
  box().attachSnmp(snmp);
  hosts = await l.run('show snmp host');
  t.match(
    hosts,
    /^Host +Port +Source +Type +Version +Community\/User +Rate\/s +Sent +Acknowledged +Retried +Timed out +Dropped$/m,
  );
  t.match(hosts, /^10\.0\.0\.6 +1162 +127\.0\.0\.\d+ +informs +2c +\*{8} +5 +11 +9 +2 +1 +0$/m);
  t.match(hosts, /^10\.0\.0\.7 +162 +127\.0\.0\.\d+ +traps +3 +user u1 +100 +12 +0 +2 +1 +0$/m);
  t.notMatch(hosts, /public|secret/);

  const eid = await l.run('show snmp engineID');
  t.match(eid, /^Local SNMP engineID: 0x80006f8804676f732d73696d2d31$/m);
  t.match(
    eid,
    /^ {2}createUser -e 0x80006f8804676f732d73696d2d31 u1 SHA-256 <auth-passphrase> AES <priv-passphrase>$/m,
  );
  t.match(eid, /^ {2}createUser -e 0x80006f8804676f732d73696d2d31 u2$/m);
  const shown = await l.run('show snmp');
  t.match(shown, /^SNMP enabled: +yes$/m);
  t.match(shown, /^Engine ID: +0x80006f8804676f732d73696d2d31$/m);
  t.match(shown, /^ {2}u1 +authPriv +sha256 +aes-128$/m);
  t.notMatch(shown, /authpass1|privpass1/);

  t.equal(
    await l.conf('snmp-server notify send-test'),
    'Test notification sent to 3 hosts; see "show snmp host" for the counters.\n',
  );
  t.equal(snmp.tests, 1);
  t.equal(
    await l.conf('snmp-server host 10.0.0.8 informs version 1 public'),
    '% SNMPv1 has no informs; use version 2c or 3.\n',
  );
  t.equal(
    await l.conf('snmp-server user u3 v3 auth sha short'),
    '% SNMPv3 passphrases must have 8 to 64 characters.\n',
  );
  t.equal(
    await l.conf('no snmp-server user u1'),
    '% SNMP user "u1" is used by a host; remove the host first.\n',
  );
  t.equal(await l.conf('no snmp-server host 10.0.0.7\nno snmp-server user u1'), '');
  t.equal(await l.conf('no snmp-server host 10.0.0.7'), '% SNMP host "10.0.0.7" is not configured.\n');
  t.equal(
    await l.conf('no snmp-server host 10.0.0.6 port 162'),
    '% SNMP host "10.0.0.6" is not configured.\n',
  );
  t.equal(await l.conf('no snmp-server host 10.0.0.6 port 1162'), '');
  t.equal(
    await l.conf('snmp-server notify event cold-start\nno snmp-server enable notify\nno snmp-server enable'),
    '',
  );
  t.match(box().config.snmp, { enabled: false, notifyEnabled: false });
  t.ok(box().config.snmp.events.includes('cold-start'));
  t.equal(
    await l.conf('snmp-server notify send-test'),
    '% SNMP notifications are off; use "snmp-server enable" and "snmp-server enable notify".\n',
  );
  t.match(await l.conf('snmp-server enable', 'monitor'), /^% Permission denied\.\n/);
  t.equal(await l.conf('snmp-server enable', 'operator'), '');
});

t.test('SNMP in FIPS mode', async (t) => {
  const l = await lab('fips');
  t.equal(
    await l.conf('snmp-server user u v3 auth md5 authpass1'),
    '% MD5 and DES are not allowed in FIPS mode; use sha/sha256/sha512 and aes-128/aes-256.\n',
  );
  t.equal(
    await l.conf('snmp-server user u v3 auth sha authpass1 priv des privpass1'),
    '% MD5 and DES are not allowed in FIPS mode; use sha/sha256/sha512 and aes-128/aes-256.\n',
  );
  t.equal(await l.conf('snmp-server user u v3 auth sha512 authpass1 priv aes-256 privpass1'), '');
});

t.test('show running-config of a configured box', async (t) => {
  const l = await lab();
  await l.conf(
    [
      'hostname core-1',
      'ip name-server 10.0.0.53',
      'ip domain-list lab.test',
      'username ops password "pw one"',
      'username ops capability operator',
      'snmp-server enable',
    ].join('\n'),
  );
  await l.run('write memory');
  t.equal(
    await l.run('show running-config'),
    [
      '##',
      '## Running configuration of box-id 1 (core-1)',
      '## Generated at 2026/01/01 00:00:00',
      '## Hostname: core-1',
      '## Product release: 6.5.00',
      '##',
      '',
      '##',
      '## Network interface configuration',
      '##',
      'interface eth0',
      '   comment "management"',
      '   ip address 127.0.0.1 /8',
      '   no shutdown',
      '   exit',
      '',
      '##',
      '## System',
      '##',
      'hostname core-1',
      'ip name-server 10.0.0.53',
      'ip domain-list lab.test',
      'crypto mode secure-crypto',
      '',
      '##',
      '## Users',
      '##',
      'username admin password ********',
      'username admin capability admin',
      'username ops password ********',
      'username ops capability operator',
      '',
      '##',
      '## SNMP',
      '##',
      'snmp-server enable',
      '',
    ].join('\n'),
  );
  // The running config replays: a fresh box given these lines gets the same config.
  const replay = await lab();
  const lines = (await l.run('show running-config'))
    .split('\n')
    .filter((x) => x && !x.startsWith('#') && !x.startsWith('username'))
    // The management interface block is read-only (the address is the listeners').
    .filter((x) => !x.startsWith('interface ') && !x.startsWith('   '));
  t.equal(await replay.conf(lines.join('\n')), '');
  t.same(replay.cluster.get(1).config.nameServers, ['10.0.0.53']);
  t.equal(replay.cluster.get(1).hostname, 'core-1');
  t.equal(await l.cluster.get(1).authenticate('ops', 'pw one'), 'operator');
  t.equal(await l.cluster.get(1).authenticate('admin', TEST_PASSWORD), 'admin');
});
