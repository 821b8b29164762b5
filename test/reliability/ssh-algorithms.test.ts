/**
 * The SSH algorithms of the CLI per crypto mode, checked from outside with
 * Debian's ssh-audit against real box processes (issue 15 #6): FIPS mode
 * offers ECDH on the NIST curves, AES-GCM/CTR and HMAC-SHA2 only (no
 * curve25519, ChaCha20 or HMAC-SHA1); no mode offers SHA-1 MACs or key
 * exchange, CBC ciphers or compression before authentication ("zlib").
 * The lists are the README's table (src/cli/transports/ssh-algorithms.ts).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SSH_ALGORITHMS } from '../../src/cli/transports/ssh-algorithms.js';
import { startBox } from './helpers.js';

const run = promisify(execFile);

interface Audit {
  kex: { algorithm: string }[];
  enc: string[];
  mac: string[];
  compression: string[];
  key: { algorithm: string }[];
}

async function audit(port: number): Promise<Audit> {
  // ssh-audit exits non-zero when it has warnings; its JSON is on stdout either way.
  const r = await run('ssh-audit', ['-j', '-p', String(port), '127.0.0.1']).catch(
    (e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }),
  );
  return JSON.parse(r.stdout) as Audit;
}

for (const mode of ['classic', 'secure-crypto', 'fips'] as const) {
  t.test(`${mode}: the SSH algorithms offered (ssh-audit)`, async (t) => {
    const box = await startBox({ args: ['--crypto-mode', mode] });
    t.teardown(() => box.kill());
    const a = await audit(box.ready.ports.ssh);
    // ssh2 adds the strict-kex marker (CVE-2023-48795, "Terrapin"); it is not an algorithm.
    const kex = a.kex.map((k) => k.algorithm).filter((k) => !k.startsWith('kex-strict-'));
    const want = SSH_ALGORITHMS[mode];
    t.same(kex, want.kex, `key exchange: ${kex.join(', ')}`);
    t.same(a.enc, want.cipher, `ciphers: ${a.enc.join(', ')}`);
    t.same(a.mac, want.hmac, `MACs: ${a.mac.join(', ')}`);
    t.same(a.compression, want.compress, `compression: ${a.compression.join(', ')}`);
    const all = [...kex, ...a.enc, ...a.mac];
    t.notOk(
      all.some((x) => /sha1|md5|cbc|arcfour|3des|group1-|group14-sha1/.test(x)),
      'no SHA-1, MD5, CBC or RC4',
    );
    t.notOk(a.compression.includes('zlib'), 'no compression before authentication');
    if (mode === 'fips') {
      t.same(kex, ['ecdh-sha2-nistp256', 'ecdh-sha2-nistp384', 'ecdh-sha2-nistp521'], 'FIPS: NIST ECDH only');
      t.ok(
        a.enc.every((c) => /^aes(128|192|256)-(gcm@openssh\.com|ctr)$/.test(c)),
        'FIPS: AES-GCM and AES-CTR only',
      );
      t.ok(
        a.mac.every((m) => /^hmac-sha2-(256|512)/.test(m)),
        'FIPS: HMAC-SHA2 only',
      );
      t.same(a.compression, ['none'], 'FIPS: no compression');
    }
  });
}
