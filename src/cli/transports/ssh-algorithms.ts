/**
 * The SSH algorithms the CLI server offers, per crypto mode (the names are
 * the SSH protocol's, RFC 4253 and its successors, as ssh2 spells them).
 * Every mode: no SHA-1 MAC or key exchange, no CBC or arcfour cipher, and no
 * compression before authentication ("zlib"; OpenSSH's delayed
 * "zlib@openssh.com" starts only after the login). The README tables them.
 *
 * - classic: modern defaults, including X25519 and ChaCha20-Poly1305, and
 *   2048-bit finite-field key exchange for old clients;
 * - secure-crypto: the same without the 2048-bit groups;
 * - fips: FIPS 140 approved only: ECDH on the NIST curves, AES-GCM and
 *   AES-CTR, HMAC-SHA2; no curve25519, no ChaCha20, no compression at all.
 */
import type {
  CipherAlgorithm,
  CompressionAlgorithm,
  KexAlgorithm,
  MacAlgorithm,
  ServerHostKeyAlgorithm,
} from 'ssh2';
import type { CryptoMode } from '../../device/model.js';

/** One mode's lists, in order of preference (ssh2's `algorithms` option). */
export interface SshAlgorithms {
  kex: KexAlgorithm[];
  cipher: CipherAlgorithm[];
  hmac: MacAlgorithm[];
  compress: CompressionAlgorithm[];
  serverHostKey: ServerHostKeyAlgorithm[];
}

const NIST_KEX: KexAlgorithm[] = ['ecdh-sha2-nistp256', 'ecdh-sha2-nistp384', 'ecdh-sha2-nistp521'];
const AES: CipherAlgorithm[] = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
];
const HMAC_SHA2: MacAlgorithm[] = [
  'hmac-sha2-256-etm@openssh.com',
  'hmac-sha2-512-etm@openssh.com',
  'hmac-sha2-256',
  'hmac-sha2-512',
];
/** The box's host key is EC P-256 (device/first-boot.ts). */
const HOST_KEY: ServerHostKeyAlgorithm[] = ['ecdsa-sha2-nistp256'];

// EMULATION: the per-mode SSH algorithm lists are ours (README, "SSH algorithms per crypto mode").
export const SSH_ALGORITHMS: Readonly<Record<CryptoMode, SshAlgorithms>> = {
  classic: {
    kex: [
      'curve25519-sha256',
      'curve25519-sha256@libssh.org',
      ...NIST_KEX,
      'diffie-hellman-group-exchange-sha256',
      'diffie-hellman-group16-sha512',
      'diffie-hellman-group18-sha512',
      'diffie-hellman-group14-sha256',
    ],
    cipher: ['chacha20-poly1305@openssh.com', ...AES],
    hmac: HMAC_SHA2,
    compress: ['none', 'zlib@openssh.com'],
    serverHostKey: HOST_KEY,
  },
  'secure-crypto': {
    kex: [
      'curve25519-sha256',
      'curve25519-sha256@libssh.org',
      ...NIST_KEX,
      'diffie-hellman-group16-sha512',
      'diffie-hellman-group18-sha512',
    ],
    cipher: ['chacha20-poly1305@openssh.com', ...AES],
    hmac: HMAC_SHA2,
    compress: ['none', 'zlib@openssh.com'],
    serverHostKey: HOST_KEY,
  },
  fips: {
    kex: NIST_KEX,
    cipher: AES,
    hmac: HMAC_SHA2,
    compress: ['none'],
    serverHostKey: HOST_KEY,
  },
};
