/**
 * TLS of the HTTPS management server, checked from outside with Debian's
 * `openssl s_client` against real box processes in classic and in FIPS
 * crypto mode:
 *
 * - TLS 1.2 and 1.3 only: TLS 1.0 and 1.1 are refused by the box (the
 *   client is set to security level 0, so the refusal is the server's);
 * - the ciphers the box accepts are all ECDHE with AEAD (forward secrecy,
 *   no CBC, no RSA key exchange, no RC4/3DES/NULL/export/anonymous), and in
 *   FIPS mode only FIPS-approved ones (AES-GCM, never ChaCha20-Poly1305), in
 *   TLS 1.2 and TLS 1.3 alike. Quick: each allowed cipher alone, and every
 *   other cipher OpenSSL knows offered together (refused, or the box would
 *   have picked one); full (GVOS_FULL=1): every cipher alone, ~160
 *   handshakes per mode;
 * - ECDHE only: TLS 1.3 refuses the finite-field groups (ffdhe2048-8192)
 *   in classic, secure-crypto and FIPS mode.
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { BoxProcess } from '../harness/box-process.js';
import { FULL, startBox } from './helpers.js';

const run = promisify(execFile);

/** The cipher negotiated when a client offers exactly `o`, or undefined when the handshake fails. */
async function handshake(
  port: number,
  o: { version: string; cipher?: string; suite?: string; groups?: string },
): Promise<string | undefined> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'box.lab.test', `-${o.version}`];
  // Security level 0 on the client: whatever is refused, the box refused it.
  args.push('-cipher', `${o.cipher ?? 'ALL'}:@SECLEVEL=0`);
  if (o.suite) args.push('-ciphersuites', o.suite);
  if (o.groups) args.push('-groups', o.groups);
  // stdin from /dev/null: s_client ends right after the handshake instead of waiting for input.
  const out = await new Promise<string>((resolve) => {
    const p = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    p.stdout.on('data', (d: Buffer) => (text += d.toString()));
    p.stderr.on('data', (d: Buffer) => (text += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    p.once('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
  const m = /Cipher is (\S+)/.exec(out);
  return m && m[1] !== '(NONE)' ? m[1] : undefined;
}

/** Every cipher of OpenSSL for TLS 1.2 and below, and the TLS 1.3 suites. */
async function allCiphers(): Promise<{ tls12: string[]; tls13: string[] }> {
  const { stdout } = await run('openssl', ['ciphers', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0']);
  const all = stdout.trim().split(':');
  return {
    tls12: all.filter((c) => !c.startsWith('TLS_')),
    tls13: [
      ...new Set([
        ...all.filter((c) => c.startsWith('TLS_')),
        'TLS_AES_128_CCM_SHA256',
        'TLS_AES_128_CCM_8_SHA256',
      ]),
    ],
  };
}

/** Run `fn` over `xs`, `n` at a time. */
async function pool<T, R>(xs: readonly T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(xs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < xs.length) {
        const i = next++;
        out[i] = await fn(xs[i]!);
      }
    }),
  );
  return out;
}

const STRONG_TLS12 = /^ECDHE-(RSA|ECDSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/;
const FIPS_TLS12 = /^ECDHE-(RSA|ECDSA)-AES(128|256)-GCM-SHA(256|384)$/;
const STRONG_TLS13 = ['TLS_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256'];
const FIPS_TLS13 = ['TLS_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256'];

const ciphers = await allCiphers();
/** The finite-field groups OpenSSL offers for TLS 1.3 by default (RFC 7919). */
const FFDHE_GROUPS = ['ffdhe2048', 'ffdhe3072', 'ffdhe4096', 'ffdhe6144', 'ffdhe8192'];

for (const mode of ['classic', 'fips'] as const) {
  t.test(`${mode} mode: TLS 1.2 and 1.3 only, strong ciphers only (openssl s_client)`, async (t) => {
    const box: BoxProcess = await startBox({ args: ['--crypto-mode', mode] });
    t.teardown(() => box.kill());
    const port = box.ready.ports.https;

    for (const version of ['tls1', 'tls1_1']) {
      t.equal(await handshake(port, { version }), undefined, `${version} is refused`);
    }
    t.ok(await handshake(port, { version: 'tls1_2' }), 'TLS 1.2 works');
    t.ok(await handshake(port, { version: 'tls1_3' }), 'TLS 1.3 works');

    const rule = mode === 'fips' ? FIPS_TLS12 : STRONG_TLS12;
    const what = mode === 'fips' ? 'FIPS-approved' : 'ECDHE with AEAD';
    // Quick: the allowed ones one by one, and all the others offered together (the box would pick
    // one if it took any). Full: every cipher alone.
    const probe = FULL ? ciphers.tls12 : ciphers.tls12.filter((c) => rule.test(c));
    const got12 = await pool(probe, 8, (c) => handshake(port, { version: 'tls1_2', cipher: c }));
    const accepted12 = probe.filter((_, i) => got12[i] !== undefined);
    t.ok(accepted12.length > 0, `TLS 1.2: accepted ${accepted12.join(', ')}`);
    t.same(
      accepted12.filter((c) => !rule.test(c)),
      [],
      `TLS 1.2: every accepted cipher is ${what}`,
    );
    const others = ciphers.tls12.filter((c) => !rule.test(c));
    t.equal(
      await handshake(port, { version: 'tls1_2', cipher: others.join(':') }),
      undefined,
      `TLS 1.2: none of the ${others.length} other ciphers is accepted`,
    );

    const got13 = await pool(ciphers.tls13, 4, (s) => handshake(port, { version: 'tls1_3', suite: s }));
    const accepted13 = ciphers.tls13.filter((_, i) => got13[i] !== undefined);
    const allowed13 = mode === 'fips' ? FIPS_TLS13 : STRONG_TLS13;
    t.ok(accepted13.length > 0, `TLS 1.3: accepted ${accepted13.join(', ')}`);
    t.same(
      accepted13.filter((s) => !allowed13.includes(s)),
      [],
      `TLS 1.3: only ${allowed13.join(', ')}`,
    );
    if (mode === 'fips')
      t.notOk(
        accepted13.some((s) => s.includes('CHACHA')) || accepted12.some((c) => c.includes('CHACHA')),
        'no ChaCha20 in FIPS mode',
      );

    // Key exchange groups: FIPS mode only the NIST curves (X25519/X448 are not approved).
    for (const version of ['tls1_2', 'tls1_3']) {
      t.ok(await handshake(port, { version, groups: 'P-256' }), `${version}: P-256 key exchange works`);
      for (const g of ['X25519', 'X448']) {
        const got = await handshake(port, { version, groups: g });
        if (mode === 'fips') t.equal(got, undefined, `${version}: ${g} is refused in FIPS mode`);
        else if (g === 'X25519') t.ok(got, `${version}: X25519 works in classic mode`);
      }
    }
    // ECDHE only: no finite-field group (RFC 7919) in any mode.
    for (const g of FFDHE_GROUPS)
      t.equal(await handshake(port, { version: 'tls1_3', groups: g }), undefined, `TLS 1.3: ${g} is refused`);
  });
}

t.test(
  'secure-crypto mode: ECDHE only, no finite-field groups (openssl s_client -groups ffdhe*)',
  async (t) => {
    const box: BoxProcess = await startBox({ args: ['--crypto-mode', 'secure-crypto'] });
    t.teardown(() => box.kill());
    const port = box.ready.ports.https;
    t.ok(await handshake(port, { version: 'tls1_3', groups: 'P-256' }), 'TLS 1.3 with P-256 works');
    for (const g of FFDHE_GROUPS)
      t.equal(await handshake(port, { version: 'tls1_3', groups: g }), undefined, `TLS 1.3: ${g} is refused`);
  },
);
