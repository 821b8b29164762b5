// Issue 14 item 4, the topology option that puts the box's address in its
// certificate, over a real lab (Pebble, curl, openssl): with
// `on-start.address-in-certificate: true` a box's certificate names its DNS
// name and its address (one ACME order with a dns and an ip identifier), so
// `curl --cacert ca-root.pem https://<address>/` verifies with no --resolve,
// as the printed `by address:` hint says; a box that opts out (box 1) fails
// that same verification; a revoke re-issues for both again.
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ensureBuilt, labSkipReason, missingLabPeers, runLabCli, startTopologyLab } from './lab-harness.js';

// Its own address block (127.0.21.x), apart from other suites.
const BASE = '127.0.21';
const missing = missingLabPeers(['curl', 'openssl']);
const skip = missing.length
  ? `missing ${missing.join(', ')}: apt-get install pebble snmptrapd curl openssl`
  : await labSkipReason([`${BASE}.1`, `${BASE}.2`, `${BASE}.3`]);

/** Run a program to completion: its exit code and output (never throws on a non-zero exit). */
function run(cmd: string, args: string[], input = ''): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) || 1 : 0, out: stdout + stderr }),
    );
    p.stdin!.end(input);
  });
}

/** curl of https://<address>/ trusting only the lab's root: full verification, nothing else given. */
const curlByAddress = (root: string, address: string) =>
  run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', root, `https://${address}/`]);

/** The certificate a box serves (no SNI: what a client by address gets), as openssl prints its SANs and serial. */
async function served(address: string): Promise<{ sans: string; serial: string }> {
  const chain = await run('openssl', ['s_client', '-connect', `${address}:443`, '-showcerts'], '');
  const leaf = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(chain.out)?.[0] ?? '';
  const x = await run('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-serial'], leaf);
  return {
    sans: /X509v3 Subject Alternative Name:\s*\n\s*(.+)/.exec(x.out)?.[1]?.trim() ?? x.out,
    serial: /serial=([0-9A-F]+)/i.exec(x.out)?.[1]?.toUpperCase() ?? '',
  };
}

// A lab of three boxes and a dozen curl/openssl runs on a busy 2-core machine.
t.setTimeout(300_000);

t.test(
  'address-in-certificate: the address verifies with only --cacert',
  { skip, timeout: 300_000 },
  async (t) => {
    ensureBuilt();
    const { lab, labs } = await startTopologyLab(t, 'gvos-lab-ip-cert-', [
      'lab: e2e-ipcert',
      'admin-password: Adm1n-lab-ipcert',
      'network:',
      `  address-base: ${BASE}.0`,
      '  address-offset: 0',
      'boxes:',
      '  count: 3',
      '  list:',
      '    - box-id: 1',
      '      address-in-certificate: false',
      'on-start:',
      '  address-in-certificate: true',
    ]);
    const up = lab.stdout();
    t.match(up, /lab e2e-ipcert is up: 3 boxes, 3 with a valid certificate/);
    const root = join(labs, 'e2e-ipcert', 'ca-root.pem');
    t.comment(
      up
        .split('\n')
        .filter((l) => /^(addressing|web| {2}curl| {2}by address):/.test(l))
        .join('\n'),
    );

    // The hint of box 3 (the one `lab up` shows) names both, and its by-address line works as printed.
    t.match(up, `(box 3; its certificate names gigavue-3.lab.test and ${BASE}.3)`);
    const line = up.split('\n').find((l) => l.startsWith('  by address:'));
    t.ok(line, 'a by-address hint is printed');
    const hint = line!.slice(line!.indexOf('curl ')).trim().split(/ +/);
    t.same(hint, ['curl', '--cacert', root, `https://${BASE}.3/`], 'only --cacert, no --resolve');
    const printed = await run('curl', ['-sS', '-o', '/dev/null', ...hint.slice(1)]);
    t.equal(printed.code, 0, `the printed hint verifies: ${printed.out}`);

    for (const id of [2, 3]) {
      const address = `${BASE}.${id}`;
      const got = await curlByAddress(root, address);
      t.equal(got.code, 0, `box ${id}: curl --cacert by address verifies (${got.out})`);
      t.equal(got.out, '200', `box ${id}: its page answers`);
      const { sans } = await served(address);
      t.equal(sans, `DNS:gigavue-${id}.lab.test, IP Address:${address}`, `box ${id}: both SANs`);
    }

    // Box 1 opted out: the same curl fails verification (curl exit 60: the certificate does not name the address).
    const off = await curlByAddress(root, `${BASE}.1`);
    t.equal(
      off.code,
      60,
      `box 1 without the option: verification fails (${off.out.split('\n')[0]!.slice(0, 120)})`,
    );
    t.match(off.out, /subject name|does not match|SSL: no alternative/i);
    t.equal((await served(`${BASE}.1`)).sans, 'DNS:gigavue-1.lab.test', 'box 1: its name only');

    // A revoke re-issues, and the new certificate names the address again (the box kept it).
    const before = await served(`${BASE}.2`);
    const revoke = await runLabCli(['acme', 'revoke', '--box', '2', '--json', '--labs-dir', labs]);
    t.equal(revoke.code, 0, revoke.stderr);
    const after = await served(`${BASE}.2`);
    t.not(after.serial, before.serial, 'box 2 serves a new certificate');
    t.equal(after.sans, `DNS:gigavue-2.lab.test, IP Address:${BASE}.2`, 'the re-issued one names both');
    const again = await curlByAddress(root, `${BASE}.2`);
    t.equal(again.code, 0, `box 2 by address still verifies (${again.out})`);
  },
);
