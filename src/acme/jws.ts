/**
 * The JWS of an ACME request (RFC 8555 §6.2, RFC 7515 flattened JSON
 * serialization), built in one place and in one pass: the protected header
 * (alg; kid, or jwk for newAccount; nonce; url), the base64url payload ("" for
 * POST-as-GET, §6.3) and the signature (ES256/384/512 as raw r||s,
 * RFC 7518 §3.4; RS256 PKCS#1 v1.5), serialized straight into the request
 * body's bytes.
 *
 * Why not acme-client's HttpClient: it rebuilds the header and the JWK
 * object on every request, serializes the JWS object a second time for the
 * transport and goes through several async layers per request; a lab signs
 * eight requests per certificate for a thousand boxes (issue 16's profile).
 */
import { constants as cryptoConstants, createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';

/** A public JWK with only its required members, sorted (RFC 7638 §3.2), as a JSON text. */
function jwkJson(key: KeyObject): string {
  const jwk = createPublicKey(key).export({ format: 'jwk' }) as Record<string, unknown>;
  const required = jwk['kty'] === 'EC' ? ['crv', 'kty', 'x', 'y'] : ['e', 'kty', 'n'];
  return JSON.stringify(Object.fromEntries(required.map((k) => [k, jwk[k]])));
}

/** The JWS algorithm of an account key (RFC 7518 §3.1): ES256/384/512 by curve, else RS256. */
function algorithmOf(key: KeyObject): { alg: string; hash: string } {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'secp384r1') return { alg: 'ES384', hash: 'sha384' };
    if (curve === 'secp521r1') return { alg: 'ES512', hash: 'sha512' };
    if (curve === 'prime256v1') return { alg: 'ES256', hash: 'sha256' };
    throw new Error(`no JWS algorithm for the account key's curve ${String(curve)}`);
  }
  if (key.asymmetricKeyType === 'rsa') return { alg: 'RS256', hash: 'sha256' };
  throw new Error(`no JWS algorithm for a ${String(key.asymmetricKeyType)} account key`);
}

/** Signs the requests of one account key. Immutable; derive once per key ({@link signerFor}). */
export class JwsSigner {
  readonly alg: string;
  private readonly hash: string;
  /** The public JWK, RFC 7638 form, as JSON text (the newAccount header carries it). */
  readonly jwk: string;
  /** RFC 7638 thumbprint, base64url (the key authorization's second half, RFC 8555 §8.1). */
  readonly thumbprint: string;
  private readonly signOptions: { key: KeyObject; padding: number; dsaEncoding: 'ieee-p1363' };

  constructor(key: KeyObject) {
    ({ alg: this.alg, hash: this.hash } = algorithmOf(key));
    this.jwk = jwkJson(key);
    this.thumbprint = createHash('sha256').update(this.jwk).digest('base64url');
    this.signOptions = { key, padding: cryptoConstants.RSA_PKCS1_PADDING, dsaEncoding: 'ieee-p1363' };
  }

  /**
   * The request body: a flattened JWS over `payload` (its JSON text; null
   * for POST-as-GET) for `url`, with `nonce`, signed by the key and naming
   * the account by `kid` (its URL), or by the public key itself when `kid`
   * is null (newAccount, RFC 8555 §6.2).
   */
  body(url: string, payload: string | null, nonce: string, kid: string | null): Buffer {
    // The members' text as JSON.stringify gives it: a URL or nonce from the server may hold any character.
    const header =
      `{"alg":"${this.alg}",` +
      (kid === null ? `"jwk":${this.jwk}` : `"kid":${JSON.stringify(kid)}`) +
      `,"nonce":${JSON.stringify(nonce)},"url":${JSON.stringify(url)}}`;
    const protectedB64 = Buffer.from(header, 'utf8').toString('base64url');
    const payloadB64 = payload === null ? '' : Buffer.from(payload, 'utf8').toString('base64url');
    const signature = sign(
      this.hash,
      Buffer.from(`${protectedB64}.${payloadB64}`, 'latin1'),
      this.signOptions,
    ).toString('base64url');
    // base64url needs no JSON escaping.
    return Buffer.from(
      `{"protected":"${protectedB64}","payload":"${payloadB64}","signature":"${signature}"}`,
      'latin1',
    );
  }

  /** The key authorization of a challenge token (RFC 8555 §8.1). */
  keyAuthorization(token: string): string {
    return `${token}.${this.thumbprint}`;
  }
}

const SIGNERS = new WeakMap<KeyObject, JwsSigner>();

/** The signer of `key`, derived once per KeyObject (the agent keeps one KeyObject per account key). */
export function signerFor(key: KeyObject): JwsSigner {
  let s = SIGNERS.get(key);
  if (!s) SIGNERS.set(key, (s = new JwsSigner(key)));
  return s;
}
