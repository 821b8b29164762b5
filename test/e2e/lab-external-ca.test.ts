// Issue 14: a lab whose topology names an external ACME CA with that CA's own root file
// (`ca: { type: external, directory-url, root }`, `name-server`). The CA here is a second Pebble
// this test starts itself (test/harness/pebble.ts over src/acme/pebble-launcher.ts), with its own
// listener CA and issuing root, not the lab's. With its root bundle the boxes get certificates from
// it (Pebble knows their serials) that verify against its issuing root; with another root each box
// refuses the CA's TLS, says which root to add, and gets no certificate.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { createListenerCertificate } from '../../src/acme/pebble-launcher.js';
import { startPebble, type Pebble } from '../harness/pebble.js';
import { ensureBuilt, labSkipReason, labStatusJson, runLabCli, startTopologyLab } from './lab-harness.js';

// Its own address block (127.0.18.x), apart from users' labs and other suites.
const BASE = '127.0.18';
const PASSWORD = 'Adm1n-lab-extca';
const skip = await labSkipReason([`${BASE}.1`, `${BASE}.2`]);

// Two labs in a row against a Pebble of the test's own: about two minutes at load 10.
t.setTimeout(600_000);

/** The topology of a two-box lab using `pebble` as its external CA, trusting `rootFile`. */
function topology(name: string, pebble: Pebble, rootFile: string): string[] {
  return [
    `lab: ${name}`,
    `admin-password: ${PASSWORD}`,
    'boxes: 2',
    'network:',
    `  address-base: ${BASE}.0`,
    '  address-offset: 0',
    `name-server: ${pebble.dnsServer}`,
    'ca:',
    '  type: external',
    `  directory-url: ${pebble.directoryUrl}`,
    `  root: ${rootFile}`,
  ];
}

/** The certificate box `address` serves for `servername`, checked against `ca` only. */
function served(
  address: string,
  servername: string,
  ca: string,
): Promise<{ authorized: boolean; serial: string }> {
  return new Promise((resolve, reject) => {
    // rejectUnauthorized false only to read the verdict: `authorized` is the verification against `ca`.
    const s = tlsConnect({ host: address, port: 443, servername, ca, rejectUnauthorized: false }, () => {
      resolve({ authorized: s.authorized, serial: s.getPeerCertificate().serialNumber });
      s.end();
    });
    s.once('error', reject);
  });
}

t.test('a lab on an external CA with its own root', { skip }, async (t) => {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'gvos-extca-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The boxes' http-01 and tls-alpn-01 answers are on their own addresses, standard ports.
  const pebble = await startPebble({ httpPort: 80, tlsPort: 443 });
  t.teardown(() => pebble.stop());
  for (const id of [1, 2]) await pebble.addA(`gigavue-${id}.lab.test`, `${BASE}.${id}`);
  const issuingRoot = await pebble.root();
  // The CA's own root file: the root of its TLS listener and its issuing root (a bundle, as docker/ has).
  const rootFile = join(dir, 'external-ca-root.pem');
  writeFileSync(rootFile, pebble.listenerCaPem + issuingRoot);

  await t.test('with its root: certificates from that CA, verified against its root', async (t) => {
    const { lab, labs } = await startTopologyLab(
      t,
      'gvos-extca-good-',
      topology('e2e-extca', pebble, rootFile),
    );
    t.match(lab.stdout(), /lab e2e-extca is up: 2 boxes, 2 with a valid certificate/, 'both boxes got one');
    t.notMatch(lab.stdout(), /starting Pebble/, 'the lab started no CA of its own');
    const rows = await labStatusJson(labs);
    for (const r of rows) {
      const name = `${r.hostname}.lab.test`;
      t.equal(r.certificate.status, 'valid', `box ${r.boxId}: valid`);
      const got = await served(r.address, name, issuingRoot);
      t.ok(
        got.authorized,
        `box ${r.boxId} serves a certificate for ${name} that verifies against the CA's issuing root`,
      );
      t.equal(
        got.serial,
        r.certificate.serial,
        `box ${r.boxId}: the served serial is the one lab status shows`,
      );
      t.match(
        await pebble.certStatus(got.serial),
        { Status: 'Valid' },
        `box ${r.boxId}: the external Pebble issued it`,
      );
    }
    const caRoot = readFileSync(join(labs, 'e2e-extca', 'ca-root.pem'), 'utf8');
    t.ok(caRoot.includes(issuingRoot.trim()), "the lab's ca-root.pem holds the external CA's root");
    const down = await runLabCli(['down', '--name', 'e2e-extca', '--labs-dir', labs]);
    t.equal(down.code, 0, `lab down ${down.stderr}`);
    await lab.exited;
  });

  await t.test('with another root: the CA is refused, no certificate', async (t) => {
    const other = await createListenerCertificate(
      mkdtempSync(join(dir, 'other-')),
      ['other.lab.test'],
      'not the CA',
    );
    const wrongFile = join(dir, 'wrong-root.pem');
    writeFileSync(wrongFile, other.caPem);
    const { lab, labs } = await startTopologyLab(
      t,
      'gvos-extca-wrong-',
      topology('e2e-extca-wrong', pebble, wrongFile),
    );
    t.match(lab.stdout(), /lab e2e-extca-wrong is up: 2 boxes, 0 with a valid certificate/, 'no box got one');
    // Each box refuses to talk to a CA whose TLS certificate its CA list does not verify, and says
    // which root to add; nothing reaches the CA's ACME API, so no request is recorded.
    for (const id of [1, 2])
      t.match(
        lab.stdout(),
        new RegExp(
          `box ${id} gigavue-${id}: issue: Refused: The ACME server's TLS certificate is not trusted by the CA list.*` +
            'Add the root certificate "gvos-sim pebble listener CA"',
        ),
        `box ${id}: the issue is refused, naming the root to add`,
      );
    for (const r of await labStatusJson(labs)) {
      // Not `none` with no reason: lab status says why the lab's issue never became a request.
      t.equal(r.certificate.status, 'failed', `box ${r.boxId}: failed, no certificate`);
      t.match(
        r.certificate.reason,
        /^The ACME server's TLS certificate is not trusted by the CA list/,
        `box ${r.boxId}: lab status gives the reason lab up printed`,
      );
      t.equal(r.certificate.serial, null, `box ${r.boxId}: no serial`);
      t.equal(r.certificate.lastRequest, null, `box ${r.boxId}: no request reached the CA`);
    }
  });
});
