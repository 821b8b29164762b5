import t from 'tap';
import { generateKeyPair } from '../pki/keys.js';
import { createSelfSigned } from '../pki/self-signed.js';
import { ADMIN, MONITOR, OPERATOR, makeTestBox, acmePortOf } from '../../test/harness/boxes.js';
import { DeviceError } from './errors.js';
import type { AcmeController, AcmeRequest } from './ports.js';
import { prepareBoot } from './first-boot.js';
import { DEFAULT_CERT_NAME } from './model.js';
import { acmeIssued } from '../../test/harness/acme-issued.js';

async function certAndKey(cn: string) {
  const k = await generateKeyPair('prime256v1');
  const cert = await createSelfSigned({
    privateKeyPem: k.privateKeyPem,
    keyAlgorithm: 'prime256v1',
    commonName: cn,
    altNames: [cn],
    notBeforeMs: Date.now(),
    validDays: 30,
  });
  return { cert, key: k.privateKeyPem };
}

/** An AcmeController that records what the device asked of it (the device's side only). */
class RecordingAcme implements AcmeController {
  started: AcmeRequest[] = [];
  cleared = 0;
  async start(r: AcmeRequest) {
    this.started.push(r);
  }
  async clear() {
    this.cleared++;
  }
  stop() {}
}

t.test('first boot: admin can log in, wrong and empty passwords cannot, unknown users cannot', async (t) => {
  const { box } = await makeTestBox();
  t.equal(await box.authenticate('admin', 'Adm1n-test-pw'), 'admin');
  t.equal(await box.authenticate('admin', 'wrong'), null);
  t.equal(await box.authenticate('admin', ''), null);
  t.equal(await box.authenticate('nobody', 'Adm1n-test-pw'), null);
});

t.test('the default certificate is mapped to web, with the hostname and address as SANs', async (t) => {
  const { box } = await makeTestBox({ hostname: 'hc2-lab' });
  const web = box.certificate(box.webCertificateName);
  t.equal(web.name, 'default-cert');
  t.ok(web.facts.selfSigned);
  t.match(web.facts.subject, /CN=hc2-lab/);
  t.same(web.facts.subjectAltNames.sort(), ['DNS:hc2-lab', 'IP:127.0.0.1']);
  t.equal(web.facts.keyType, 'EC (prime256v1)', 'P-256 outside classic mode');
});

t.test('classic mode makes an RSA-2048 default certificate', async (t) => {
  const { box } = await makeTestBox({ cryptoMode: 'classic' });
  const web = box.certificate('default-cert');
  t.equal(web.facts.keyType, 'RSA');
  t.equal(web.facts.keySize, 2048);
});

t.test('certificates: add, key must match, map to web, refuse delete while in use', async (t) => {
  const { box, store } = await makeTestBox();
  const a = await certAndKey('a.lab.test');
  const b = await certAndKey('b.lab.test');
  const changes: string[] = [];
  box.events.on('web-certificate-changed', (e) => changes.push(e.certName));

  await box.addPublicCertificate(OPERATOR, 'web1', a.cert);
  await t.rejects(box.addPrivateKey(OPERATOR, 'web1', b.key), {
    code: 'bad-input',
    message: /does not match/,
  });
  t.notOk(box.certificate('web1').hasPrivateKey, 'a mismatching key changes nothing');
  await t.rejects(box.setWebCertificate(OPERATOR, 'web1'), {
    code: 'precondition',
    message: /no private key/,
  });
  await box.addPrivateKey(OPERATOR, 'web1', a.key);
  await box.setWebCertificate(OPERATOR, 'web1');
  t.same(changes, ['web1']);
  t.equal(box.webCredentials().certName, 'web1');
  await t.rejects(box.deleteCertificate(OPERATOR, 'web1'), { code: 'in-use' });
  await t.rejects(box.addPublicCertificate(OPERATOR, 'web1', b.cert), { code: 'exists' });
  await box.setWebCertificate(OPERATOR, 'default-cert');
  await box.deleteCertificate(OPERATOR, 'web1');
  t.throws(() => box.certificate('web1'), { code: 'not-found' });
  const saved = await store.load();
  t.notOk(saved!.crypto.certificates.web1, 'certificate changes persist at once');
});

const badPems: { name: string; pem: string; message: RegExp }[] = [
  { name: 'not PEM at all', pem: 'hello', message: /no PEM certificate/ },
  {
    name: 'PEM markers around garbage',
    pem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
    message: /not a valid X.509/,
  },
  { name: 'over 64 KiB', pem: 'x'.repeat(65 * 1024), message: /too long/ },
];
for (const row of badPems) {
  t.test(`a bad public-cert is refused and changes nothing: ${row.name}`, async (t) => {
    const { box } = await makeTestBox();
    const before = box.certificates().length;
    await t.rejects(box.addPublicCertificate(ADMIN, 'c1', row.pem), {
      code: 'bad-input',
      message: row.message,
    });
    t.equal(box.certificates().length, before);
  });
}

t.test('a failed state write changes nothing and says so', async (t) => {
  const { box, store } = await makeTestBox();
  const a = await certAndKey('a.lab.test');
  store.failWith = new Error('ENOSPC: no space left on device');
  await t.rejects(box.addPublicCertificate(ADMIN, 'c1', a.cert), { code: 'storage', message: /ENOSPC/ });
  t.throws(() => box.certificate('c1'), { code: 'not-found' });
  store.failWith = undefined;
  await box.addPublicCertificate(ADMIN, 'c1', a.cert);
  t.ok(box.certificate('c1'));
});

t.test('a batch writes its stored changes once, at its end; a failed closing write says so', async (t) => {
  const { box, store } = await makeTestBox();
  const a = await certAndKey('a.lab.test');
  const saves = store.saves;
  await box.batch(async () => {
    await box.addPublicCertificate(ADMIN, 'ca1', a.cert);
    await box.addCaListEntry(ADMIN, 'ca1');
    box.addNameServer(ADMIN, '127.0.0.1:8053');
    await box.writeMemory(ADMIN);
    t.equal(store.saves, saves, 'nothing written inside the batch');
    t.ok(box.certificate('ca1').inCaList, 'but each change is current at once');
  });
  t.equal(store.saves, saves + 1, 'one write for the whole batch');
  const saved = (await store.load())!;
  t.ok(saved.crypto.certificates.ca1, 'the certificate reached the disk');
  t.same(saved.crypto.caList.includes('ca1'), true);
  t.same(saved.config.nameServers, ['127.0.0.1:8053'], 'and the saved running config');

  store.failWith = new Error('EIO: i/o error');
  await t.rejects(
    box.batch(() => box.addCaListEntry(ADMIN, DEFAULT_CERT_NAME)),
    { code: 'storage', message: /EIO/ },
    'the closing write failed: the batch says so',
  );
  t.ok(box.certificate(DEFAULT_CERT_NAME).inCaList, 'the change stays current (the contract of a batch)');
  store.failWith = undefined;
  await box.flush();
  t.ok((await store.load())!.crypto.caList.includes(DEFAULT_CERT_NAME), 'and the next write carries it');
});

t.test('running config persists only on write memory; a reboot comes back with the saved one', async (t) => {
  const { box, store, clock } = await makeTestBox();
  box.setHostname(ADMIN, 'renamed');
  t.ok(box.hasUnsavedChanges);
  t.equal((await store.load())!.config.hostname, 'box1');
  await box.writeMemory(ADMIN);
  t.notOk(box.hasUnsavedChanges);
  box.addNameServer(ADMIN, '127.0.0.1:8053');
  const reloaded = prepareBoot((await store.load())!, clock.now());
  t.equal(reloaded.config.hostname, 'renamed');
  t.same(reloaded.config.nameServers, [], 'unsaved name server is lost');
  t.equal(reloaded.snmpEngine.boots, box.snmpEngineBoots + 1, 'engineBoots grows on every boot');
});

const roleRows: {
  name: string;
  call: (b: Awaited<ReturnType<typeof makeTestBox>>['box']) => unknown;
  needs: string;
}[] = [
  { name: 'hostname', call: (b) => b.setHostname(MONITOR, 'x'), needs: 'operator' },
  { name: 'ip name-server', call: (b) => b.addNameServer(MONITOR, '1.1.1.1'), needs: 'operator' },
  { name: 'username', call: (b) => b.setUserPassword(OPERATOR, 'u', 'pw123456'), needs: 'admin' },
  { name: 'crypto mode', call: (b) => b.setCryptoMode(OPERATOR, 'fips'), needs: 'admin' },
  { name: 'write memory', call: (b) => b.writeMemory(MONITOR), needs: 'operator' },
  {
    name: 'acme issue',
    call: (b) => b.acmeIssue(OPERATOR, { domain: 'a.test', directoryUrl: 'https://x/dir' }),
    needs: 'admin',
  },
  { name: 'acme clear', call: (b) => b.acmeClear(OPERATOR), needs: 'admin' },
  { name: 'image fetch', call: (b) => b.imageFetch(OPERATOR, '6.5.00'), needs: 'admin' },
];
for (const row of roleRows) {
  t.test(`role check: ${row.name} needs ${row.needs}`, async (t) => {
    const { box } = await makeTestBox();
    try {
      await row.call(box);
      t.fail('should be refused');
    } catch (e) {
      t.ok(e instanceof DeviceError);
      t.equal((e as DeviceError).code, 'permission-denied');
      t.equal((e as DeviceError).message, 'Permission denied.');
    }
  });
}

t.test('users: the last admin cannot be deleted or demoted; you cannot delete yourself', async (t) => {
  const { box } = await makeTestBox();
  t.throws(() => box.removeUser({ ...ADMIN, user: 'other' }, 'admin'), {
    code: 'in-use',
    message: /last admin/,
  });
  t.throws(() => box.setUserCapability(ADMIN, 'admin', 'monitor'), { code: 'in-use' });
  box.setUserPassword(ADMIN, 'ops', 'Op3rator-pw');
  box.setUserCapability(ADMIN, 'ops', 'operator');
  t.equal(await box.authenticate('ops', 'Op3rator-pw'), 'operator');
  t.throws(() => box.removeUser({ ...ADMIN, user: 'ops' }, 'ops'), { message: /logged in as/ });
  box.removeUser(ADMIN, 'ops');
  t.equal(await box.authenticate('ops', 'Op3rator-pw'), null);
});

const acmeRows: {
  name: string;
  firmware?: string;
  mode?: 'classic' | 'secure-crypto' | 'fips';
  nameServer?: boolean;
  params: {
    domain: string;
    address?: string;
    directoryUrl?: string;
    keyAlgorithm?: 'rsa-2048' | 'prime256v1';
    renewDays?: number;
  };
  code: string;
  message: RegExp;
}[] = [
  {
    name: 'firmware below 5.13.01',
    firmware: '5.13.00',
    params: { domain: 'a.lab.test' },
    code: 'unsupported',
    message: /5\.13\.01 or later; this box runs 5\.13\.00/,
  },
  {
    name: 'no name server',
    nameServer: false,
    params: { domain: 'a.lab.test' },
    code: 'precondition',
    message: /No name server configured/,
  },
  {
    name: 'algorithm not allowed in classic mode',
    mode: 'classic',
    params: { domain: 'a.lab.test', keyAlgorithm: 'prime256v1' },
    code: 'bad-input',
    message: /not allowed in classic mode; use rsa-2048 or rsa-4096/,
  },
  {
    name: 'algorithm not allowed in fips mode',
    mode: 'fips',
    params: { domain: 'a.lab.test', keyAlgorithm: 'rsa-2048' },
    code: 'bad-input',
    message: /use prime256v1 or secp384r1/,
  },
  {
    name: 'two domains',
    params: { domain: 'a.lab.test,b.lab.test' },
    code: 'bad-input',
    message: /Only one domain/,
  },
  { name: 'a wildcard', params: { domain: '*.lab.test' }, code: 'bad-input', message: /Wildcard/ },
  {
    name: 'renew-days 0',
    params: { domain: 'a.lab.test', renewDays: 0 },
    code: 'bad-input',
    message: /from 1 to 365/,
  },
  {
    name: 'renew-days 366',
    params: { domain: 'a.lab.test', renewDays: 366 },
    code: 'bad-input',
    message: /from 1 to 365/,
  },
  {
    name: 'an address beside it that is not an address',
    params: { domain: 'a.lab.test', address: 'b.lab.test' },
    code: 'bad-input',
    message: /Invalid address "b\.lab\.test"/,
  },
  {
    name: 'a second address beside an address',
    params: { domain: '127.0.0.9', address: '127.0.0.10' },
    code: 'bad-input',
    message: /is an address already/,
  },
  {
    name: 'http directory',
    params: { domain: 'a.lab.test', directoryUrl: 'http://ca/dir' },
    code: 'bad-input',
    message: /https:\/\//,
  },
];
for (const row of acmeRows) {
  t.test(`acme issue prerequisite: ${row.name}`, async (t) => {
    const { box } = await makeTestBox({ firmware: row.firmware, cryptoMode: row.mode });
    const acme = new RecordingAcme();
    box.attachAcme(acme);
    if (row.nameServer !== false) box.addNameServer(ADMIN, '127.0.0.1:8053');
    await t.rejects(box.acmeIssue(ADMIN, { directoryUrl: 'https://127.0.0.1:14000/dir', ...row.params }), {
      code: row.code,
      message: row.message,
    });
    t.same(acme.started, [], 'nothing started');
  });
}

t.test(
  'acme issue passes the defaults to the agent; renew/revoke/clear need an issued certificate and its domain',
  async (t) => {
    const { box } = await makeTestBox({ cryptoMode: 'secure-crypto' });
    const acme = new RecordingAcme();
    box.attachAcme(acme);
    box.addNameServer(ADMIN, '127.0.0.1:8053');
    await box.acmeIssue(ADMIN, { domain: 'Box1.Lab.Test', directoryUrl: 'https://127.0.0.1:14000/dir' });
    t.match(acme.started[0], {
      type: 'Issue',
      domain: 'box1.lab.test',
      keyAlgorithm: 'prime256v1',
      renewDays: null,
    });
    await box.acmeIssue(ADMIN, {
      domain: 'box1.lab.test',
      address: '127.0.0.9',
      directoryUrl: 'https://127.0.0.1:14000/dir',
    });
    t.match(acme.started[1], { domain: 'box1.lab.test', address: '127.0.0.9' }, 'the address rides along');
    await box.acmeIssue(ADMIN, {
      domain: '127.0.0.9',
      address: '127.0.0.9',
      directoryUrl: 'https://127.0.0.1:14000/dir',
    });
    t.notOk('address' in acme.started[2]!, 'the domain is the address: one identifier');
    await t.rejects(box.acmeRenew(ADMIN, 'box1.lab.test'), {
      code: 'precondition',
      message: /No ACME issued certificate to renew/,
    });
    await t.rejects(box.acmeRevoke(ADMIN, 'box1.lab.test'), { code: 'precondition', message: /to revoke/ });
    await t.rejects(box.acmeClear(ADMIN), { code: 'precondition', message: /to clear/ });
  },
);

t.test('acme: an operation already running is refused', async (t) => {
  const { box } = await makeTestBox();
  box.attachAcme(new RecordingAcme());
  box.addNameServer(ADMIN, '127.0.0.1:8053');
  await acmePortOf(box).acmeBegin('Issue', 'a.lab.test', 'https://127.0.0.1:14000/dir');
  await t.rejects(
    box.acmeIssue(ADMIN, { domain: 'a.lab.test', directoryUrl: 'https://127.0.0.1:14000/dir' }),
    {
      code: 'busy',
      message: /already in progress on box 1/,
    },
  );
});

t.test('while the ACME certificate is on web, switching web certificates is refused', async (t) => {
  const { box } = await makeTestBox();
  const a = await certAndKey('a.lab.test');
  await acmePortOf(box).installAcmeCertificate(
    a.cert,
    a.key,
    acmeIssued({
      domain: 'a.lab.test',
      directoryUrl: 'https://127.0.0.1:14000/dir',
      firstIssuedMs: 0,
      expiresMs: 1,
      serial: '01',
      nextRenewalMs: 0,
    }),
  );
  t.equal(box.webCertificateName, 'acme-https.crt');
  await t.rejects(box.setWebCertificate(ADMIN, 'default-cert'), {
    code: 'in-use',
    message: /clear it first/,
  });
  await t.rejects(box.deleteCertificate(ADMIN, 'acme-https.crt'), { code: 'in-use' });
  await acmePortOf(box).removeAcmeCertificate();
  t.equal(box.webCertificateName, 'default-cert');
});

t.test('a request in progress when the box went down is marked failed at boot', async (t) => {
  const { box, store, clock } = await makeTestBox();
  await acmePortOf(box).acmeBegin('Issue', 'a.lab.test', 'https://127.0.0.1:14000/dir');
  const d = prepareBoot((await store.load())!, clock.now());
  t.match(d.acme.lastRequest, { status: 'Failed', reason: 'interrupted by restart' });
});

t.test('acmeBegin lets only one of two concurrent callers in', async (t) => {
  const { box } = await makeTestBox();
  const results = await Promise.allSettled([
    acmePortOf(box).acmeBegin('Issue', 'a.lab.test', 'https://127.0.0.1:14000/dir'),
    acmePortOf(box).acmeBegin('Issue', 'a.lab.test', 'https://127.0.0.1:14000/dir'),
  ]);
  t.same(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
});

const prototypeNames = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
for (const name of prototypeNames) {
  t.test(`names that are Object.prototype properties are refused: ${name}`, async (t) => {
    const { box } = await makeTestBox();
    t.throws(() => box.setUserPassword(ADMIN, name, 'abcdefgh1'), { code: 'bad-input' });
    t.equal(await box.authenticate(name, 'abcdefgh1'), null, 'no hidden account');
    await t.rejects(box.addCaListEntry(ADMIN, name), { code: 'not-found' });
    await t.rejects(box.setWebCertificate(ADMIN, name), { code: 'not-found' });
    t.throws(() => box.certificate(name), { code: 'not-found' });
    t.equal(
      Object.prototype.hasOwnProperty.call(Object.prototype, 'role'),
      false,
      'Object.prototype untouched',
    );
  });
}

t.test('acmeState() carries no account keys', async (t) => {
  const { box } = await makeTestBox();
  await acmePortOf(box).saveAcmeAccount({
    directoryUrl: 'https://ca/dir',
    accountKeyPem: 'SECRET-KEY',
    accountUrl: null,
  });
  t.notMatch(JSON.stringify(box.acmeState()), /SECRET-KEY/);
  t.equal(acmePortOf(box).acmeAccount('https://ca/dir')?.accountKeyPem, 'SECRET-KEY');
});

t.test('the ACME account record reaches the disk with the next write, or at flush', async (t) => {
  const { box, store } = await makeTestBox();
  const saves = store.saves;
  const rec = { directoryUrl: 'https://ca/dir', accountKeyPem: 'KEY-1', accountUrl: 'https://ca/acct/1' };
  await acmePortOf(box).saveAcmeAccount(rec);
  t.equal(store.saves, saves, 'no write of its own');
  t.equal(
    acmePortOf(box).acmeAccount('https://ca/dir')?.accountUrl,
    'https://ca/acct/1',
    'but current at once',
  );
  await acmePortOf(box).acmeBegin('Issue', 'box1.lab.test', 'https://ca/dir');
  t.equal(store.saves, saves + 1);
  t.equal(
    (await store.load())?.acme.accounts[0]?.accountUrl,
    'https://ca/acct/1',
    'the next write carries it',
  );
  await acmePortOf(box).acmeFinish('Failed', 'test');

  await acmePortOf(box).saveAcmeAccount({ ...rec, accountUrl: 'https://ca/acct/2' });
  const before = store.saves;
  await box.flush();
  t.equal(store.saves, before + 1, 'flush writes what waits');
  t.equal((await store.load())?.acme.accounts[0]?.accountUrl, 'https://ca/acct/2');
  await box.flush();
  t.equal(store.saves, before + 1, 'and nothing when nothing waits');
});
