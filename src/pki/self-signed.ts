/**
 * The box's default certificate: self-signed, CN = hostname, SANs = hostname
 * and address (foundation issue). Built with @peculiar/x509 over WebCrypto,
 * because node:crypto can parse but not build certificates.
 */
import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs the Reflect polyfill loaded first.
import * as x509 from '@peculiar/x509';
import { isIP } from 'node:net';
import { webcrypto, randomBytes, createPrivateKey, createPublicKey } from 'node:crypto';
import type { KeyAlgorithm } from './keys.js';

x509.cryptoProvider.set(webcrypto as never);

interface SigningAlgorithm {
  name: string;
  hash: string;
  namedCurve?: string;
}

function signingAlgorithm(alg: KeyAlgorithm): SigningAlgorithm {
  switch (alg) {
    case 'rsa-2048':
    case 'rsa-4096':
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    case 'prime256v1':
      return { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    case 'secp384r1':
      return { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' };
  }
}

/** Options of a self-signed certificate. */
export interface SelfSignedOptions {
  /** PKCS#8 private key PEM of `keyAlgorithm`. */
  privateKeyPem: string;
  keyAlgorithm: KeyAlgorithm;
  commonName: string;
  /** DNS names and IP addresses; IPs become IP SANs. */
  altNames: string[];
  notBeforeMs: number;
  validDays: number;
}

/** Build a self-signed server certificate; returns its PEM. */
export async function createSelfSigned(o: SelfSignedOptions): Promise<string> {
  const alg = signingAlgorithm(o.keyAlgorithm);
  const der = createPrivateKey(o.privateKeyPem).export({ type: 'pkcs8', format: 'der' });
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, alg, true, ['sign']);
  const pubDer = createPublicKey(o.privateKeyPem).export({ type: 'spki', format: 'der' });
  const publicKey = await webcrypto.subtle.importKey('spki', pubDer, alg, true, ['verify']);
  // A positive 16-byte serial (RFC 5280 §4.1.2.2: up to 20 octets, positive).
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const cn = o.commonName.replace(/[,=+<>#;"\\]/g, '_');
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: `CN=${cn}, O=Gigamon (simulated)`,
    notBefore: new Date(o.notBeforeMs - 60_000),
    notAfter: new Date(o.notBeforeMs + o.validDays * 86_400_000),
    keys: { privateKey, publicKey } as never,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        [...new Set(o.altNames)].map((n) => (isIP(n) ? { type: 'ip', value: n } : { type: 'dns', value: n })),
      ),
    ],
  });
  return cert.toString('pem') + '\n';
}
