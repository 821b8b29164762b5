/**
 * What session.ts still takes from acme-client: since issue 16 it drives
 * RFC 8555 itself (jws.ts, session.ts) and uses acme-client only for the
 * tls-alpn-01 certificate (acme.crypto.createAlpnCertificate, RFC 8737).
 * package.json pins acme-client to exactly 5.4.0; this test fails when an
 * upgrade changes that function's shape or what it builds. No network.
 */
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { generateKeyPair } from '../pki/keys.js';
import { repoPath } from '../lib/repo-root.js';
import { createTlsAlpnCertificate } from './session.js';

const require = createRequire(import.meta.url);
const pkgFile = require.resolve('acme-client/package.json');

t.test('the installed acme-client is the pinned 5.4.0', async (t) => {
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { version: string };
  t.equal(pkg.version, '5.4.0');
  const own = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  t.equal(own.dependencies['acme-client'], '5.4.0', 'package.json pins the exact version (no range)');
});

t.test(
  'the tls-alpn-01 certificate names the identifier and holds the critical acmeIdentifier',
  async (t) => {
    const key = await generateKeyPair('prime256v1');
    for (const identifier of [
      { type: 'dns' as const, value: 'box1.lab.test' },
      { type: 'ip' as const, value: '127.0.0.9' },
    ]) {
      const pem = await createTlsAlpnCertificate(identifier, 'tok.thumb', key.privateKeyPem);
      const cert = new X509Certificate(pem);
      t.match(
        cert.subjectAltName ?? '',
        identifier.type === 'ip' ? /IP Address:127\.0\.0\.9/ : /DNS:box1\.lab\.test/,
        `${identifier.type}: the SAN (RFC 8738 §6 for an address)`,
      );
      // id-pe-acmeIdentifier 1.3.6.1.5.5.7.1.31, critical, OCTET STRING of SHA-256 (RFC 8737 §3).
      const der = cert.raw.toString('hex');
      t.ok(
        der.includes('06082b0601050507011f0101ff04220420'),
        `${identifier.type}: the critical acmeIdentifier`,
      );
      t.ok(
        cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(key.privateKeyPem)),
        'its key',
      );
    }
  },
);
