// `gvos-sim lab up` with three boxes, the way the README runs it: every box
// serves a certificate that verifies against the lab CA's root; `lab status
// --json` shows them with the serial as openssl prints it; `lab down` leaves
// no process and no port behind.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { canListen } from '../../src/lib/net.js';
import { pidAlive } from '../../src/lab/lab-state.js';
import type { LabBoxStatus, LabStateFile } from '../../src/lab/lab.js';
import { MAX_LAB_BOXES } from '../../src/device/limits.js';
import { ensureBuilt, missingLabPeers, runLabCli, startLabUp } from './lab-harness.js';

// Its own address block (127.0.4.x), apart from users' labs and other suites.
const BASE = '127.0.4';
const canBind = await canListen(`${BASE}.1`, 443);
const missing = missingLabPeers();
const skip = !canBind
  ? `cannot listen on ${BASE}.1:443 (needs root and 127/8)`
  : missing.length
    ? `missing ${missing.join(', ')}: apt-get install pebble snmptrapd`
    : false;

t.test('lab up, status, down', { skip }, async (t) => {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'gvos-lab-up-'));
  const labs = join(dir, 'labs');
  const topo = join(dir, 'topology.yaml');
  writeFileSync(
    topo,
    [
      'lab: e2e-up',
      'network:',
      `  address-base: ${BASE}.0`,
      '  address-offset: 0',
      'on-start:',
      '  domain: name',
      '',
    ].join('\n'),
  );
  const lab = await startLabUp([topo, '--boxes', '3', '--labs-dir', labs]);
  t.teardown(async () => {
    if (lab.proc.exitCode === null) lab.proc.kill('SIGTERM');
    await lab.exited;
    rmSync(dir, { recursive: true, force: true });
  });
  const out = lab.stdout();
  t.match(out, /lab e2e-up is up: 3 boxes, 3 with a valid certificate/);
  t.match(out, new RegExp(`ssh admin@${BASE.replace(/\./g, '\\.')}\\.3`), 'says how to log in to box 3');

  const state = JSON.parse(readFileSync(join(labs, 'e2e-up', 'lab.json'), 'utf8')) as LabStateFile;
  t.equal(statSync(join(labs, 'e2e-up', 'lab.json')).mode & 0o777, 0o600, 'the state file (token) is 0600');
  const root = readFileSync(join(labs, 'e2e-up', 'ca-root.pem'), 'utf8');

  const st = await runLabCli(['status', '--json', '--labs-dir', labs]);
  t.equal(st.code, 0, st.stderr);
  const rows = JSON.parse(st.stdout) as LabBoxStatus[];
  t.same(
    rows.map((r) => [r.boxId, r.address, r.ports, r.certificate.status]),
    [1, 2, 3].map((i) => [i, `${BASE}.${i}`, { ssh: 22, cli: 23, https: 443, http: 80, snmp: 161 }, 'valid']),
  );

  for (const r of rows) {
    await t.test(`box ${r.boxId} serves a certificate that verifies against the lab CA's root`, async (t) => {
      const domain = `${r.hostname}.lab.test`;
      const peer = await new Promise<{ authorized: boolean; raw: Buffer; serial: string }>(
        (resolve, reject) => {
          const s = tlsConnect(
            { host: r.address, port: r.ports.https, servername: domain, ca: root, rejectUnauthorized: false },
            () => {
              const c = s.getPeerCertificate();
              resolve({ authorized: s.authorized, raw: c.raw, serial: c.serialNumber });
              s.end();
            },
          );
          s.on('error', reject);
        },
      );
      t.ok(peer.authorized, 'chain and name verify against the lab root only');
      const pem = new X509Certificate(peer.raw).toString();
      const openssl = execFileSync('openssl', ['x509', '-noout', '-serial'], { input: pem, encoding: 'utf8' })
        .trim()
        .replace(/^serial=/, '');
      t.equal(r.certificate.serial, openssl, 'status serial = what openssl prints');
      t.ok(r.certificate.expires && Date.parse(r.certificate.expires) > Date.now(), 'expiry in the future');
    });
  }

  const down = await runLabCli(['down', '--name', 'e2e-up', '--labs-dir', labs]);
  t.equal(down.code, 0, down.stderr);
  t.match(down.stdout, /lab e2e-up is down/);
  t.equal(await lab.exited, 0, 'lab up exits 0');
  for (const p of [{ pid: state.pid }, ...state.processes])
    t.notOk(pidAlive(p.pid), `process ${p.pid} is gone`);
  for (const i of [1, 2, 3])
    for (const port of [22, 23, 80, 443])
      t.ok(await canListen(`${BASE}.${i}`, port), `${BASE}.${i}:${port} is free`);
  const cp = new URL(state.controlPlane.url);
  t.ok(await canListen(cp.hostname, Number(cp.port)), 'the control plane port is free');
  const again = await runLabCli(['status', '--labs-dir', labs]);
  t.not(again.code, 0, 'status after down says no lab runs');
});

t.test('usage and topology errors are one line each, exit code 2', async (t) => {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'gvos-lab-usage-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'lab: x\nboxes:\n  template:\n    crypto-mode: quantum\n');
  const r = await runLabCli(['up', bad, '--labs-dir', join(dir, 'labs')]);
  t.equal(r.code, 2);
  t.match(r.stderr, /bad\.yaml:4: boxes\.template\.crypto-mode: must be one of classic, secure-crypto, fips/);
  const r2 = await runLabCli(['up', '--boxes', String(MAX_LAB_BOXES + 1), '--labs-dir', join(dir, 'labs')]);
  t.equal(r2.code, 2);
  t.match(r2.stderr, new RegExp(`--boxes must be a number from 1 to ${MAX_LAB_BOXES}`));
  const r3 = await runLabCli(['frobnicate']);
  t.equal(r3.code, 2);
  t.match(r3.stderr, /unknown lab verb "frobnicate"/);
});
