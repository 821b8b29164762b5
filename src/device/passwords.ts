/**
 * Password hashing with scrypt. Stored form: `scrypt$<salt b64>$<hash b64>`.
 * Comparison is constant-time.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

/** Bounded input: longer passwords are refused before hashing (CPU cost). */
export const MAX_PASSWORD_LENGTH = 128;

// N=2^14 keeps a login under ~50 ms on this machine while staying memory-hard.
const PARAMS = { N: 16384, r: 8, p: 1 };

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, PARAMS);
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** A well-formed hash that matches no password: compared against for unknown users. */
export const UNKNOWN_USER_HASH =
  'scrypt$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

/** True when `password` matches the stored hash; scrypt runs on the libuv pool (the event loop is not blocked). */
export async function verifyPasswordAsync(password: string, stored: string): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  const [scheme, saltB64, hashB64] = stored.split('$');
  if (scheme !== 'scrypt' || !saltB64 || !hashB64) return false;
  const expected = Buffer.from(hashB64, 'base64');
  const got = await new Promise<Buffer>((resolve, reject) =>
    scrypt(password, Buffer.from(saltB64, 'base64'), expected.length, PARAMS, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
  return timingSafeEqual(expected, got);
}

/** hashPassword on the libuv pool. */
export async function hashPasswordAsync(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await new Promise<Buffer>((resolve, reject) =>
    scrypt(password, salt, 32, PARAMS, (err, key) => (err ? reject(err) : resolve(key))),
  );
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
}
