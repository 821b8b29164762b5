/**
 * One conversation of a box with its ACME server (RFC 8555) over acme-client
 * 5.4.0, the only file that imports acme-client.
 *
 * What this adds to acme-client, and why:
 * - Every request goes through the box's own {@link BoxTransport} (trust and
 *   DNS per box; see transport.ts), by replacing `http.request` on this
 *   client's own HttpClient. acme.axios is never touched.
 * - Nonces: acme-client asks newNonce before every signed request; we keep
 *   the Replay-Nonce of every response in the transport's pool instead
 *   (RFC 8555 §7.2 allows it; shared by the boxes of a pool, see
 *   transport.ts), so newNonce is asked only when the pool is empty.
 * - badNonce: acme-client 5.4.0 already retries with the nonce of the error
 *   response (RFC 8555 §6.5, checked in its http.js); we only raise its retry
 *   count, because Pebble can reject half of all nonces.
 * - 429 and 5xx: acme-client's axios interceptor re-sends the very same JWS,
 *   with its already used nonce (publishlab/node-acme-client#103), and it is
 *   bypassed here anyway. We retry the signed request with a fresh nonce,
 *   honouring Retry-After (RFC 8555 §6.6), a bounded number of times.
 * - The account: a box that stored its account URL signs with it (kid) at
 *   once, with no newAccount (one signed request less per renew and
 *   revoke); one without asks newAccount (RFC 8555 §7.3, §7.3.1: the same
 *   key gives back the existing account). A CA that has forgotten the
 *   account (Pebble forgets on restart) answers a kid request with
 *   accountDoesNotExist, unauthorized, or a JWS that no longer verifies
 *   (another account now has that URL): the session registers the key
 *   again, once, and sends that request again with the new URL.
 * - The order flow is manual, not auto(): auto() hardcodes DNS identifiers
 *   and pre-checks through the host's resolver; IP identifiers (RFC 8738)
 *   need createOrder with {type:'ip'}.
 */
import * as acme from 'acme-client';
import { constants as cryptoConstants, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import {
  CHALLENGES_BY_IDENTIFIER,
  MAX_ACME_IDENTIFIERS,
  type AcmeIdentifier,
  type ChallengeType,
} from '../device/acme-identifiers.js';
import { createCsr } from '../pki/csr.js';
import type { AcmeHttpResponse, AcmeRequestKind, BoxTransport } from './transport.js';
import { retryAfterMs, TransportError } from './transport.js';

/** How hard to poll and retry. All delays in ms. */
export interface SessionTuning {
  /** Status polling of challenges and orders (acme-client backoff): first delay, cap, attempts. */
  pollMinMs: number;
  pollMaxMs: number;
  pollAttempts: number;
  /** Retries of a request answered 429 or 5xx. */
  serverErrorRetries: number;
  /** Wait before such a retry when the server gives no Retry-After; doubles each time. */
  serverErrorDelayMs: number;
  /** Longest wait honoured from a Retry-After header; a longer one fails the request instead. */
  maxRetryAfterMs: number;
  /** badNonce retries per request (acme-client's maxBadNonceRetries). */
  badNonceRetries: number;
}

export type { ChallengeType };

/** An authorization's identifier and the chosen challenge, as the responder sees them. */
export interface ChallengeToAnswer {
  type: ChallengeType;
  identifier: AcmeIdentifier;
  token: string;
  keyAuthorization: string;
}

/** Answers challenges for the box (the agent implements it over box.challenges). */
export interface ChallengeResponder {
  /** Types the box can answer now, in order of preference. */
  types(): ChallengeType[];
  /** Start answering; resolves when the answer is being served. */
  present(c: ChallengeToAnswer): Promise<void>;
  /** Stop answering (called once the challenge is valid or failed). */
  remove(c: ChallengeToAnswer): void;
}

/** Where the session keeps the account (the box's store). */
export interface AccountSlot {
  keyPem: string;
  /** keyPem already parsed (spares a decode per session); must be the same key. */
  key?: KeyObject;
  url: string | null;
}

type Raw = AcmeHttpResponse;

interface HttpClientInternals {
  request(
    url: string,
    method: string,
    opts?: { headers?: Record<string, string>; data?: unknown },
  ): Promise<Raw>;
  signedRequest(
    url: string,
    payload: unknown,
    opts?: { kid?: string | null; nonce?: string | null; includeExternalAccountBinding?: boolean },
    attempts?: number,
  ): Promise<Raw>;
  getNonce(): Promise<string>;
  getResourceUrl(resource: string): Promise<string>;
  getDirectory(): Promise<Record<string, unknown>>;
  maxBadNonceRetries: number;
  accountKey: Buffer | KeyObject;
  jwk?: Record<string, unknown>;
  getJwk(): Record<string, unknown>;
  prepareSignedBody(
    alg: string,
    url: string,
    payload: unknown,
    opts: { nonce?: string | null; kid?: string | null },
  ): { protected: string; payload: string; signature?: string };
  createSignedBody(
    url: string,
    payload: unknown,
    opts?: { nonce?: string | null; kid?: string | null },
  ): { protected: string; payload: string; signature?: string };
}

/** An ACME problem document's type and detail (RFC 8555 §6.7), when the body is one. */
function problemOf(r: Raw): { type: string; detail: string } | undefined {
  const d = r.data as { type?: unknown; detail?: unknown } | undefined;
  if (d && typeof d === 'object' && typeof d.type === 'string')
    return { type: d.type, detail: typeof d.detail === 'string' ? d.detail : '' };
  return undefined;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new TransportError('aborted', 'the operation was cancelled'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new TransportError('aborted', 'the operation was cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * A logged-in ACME client of one box for one directory. Create with
 * {@link AcmeSession.open}; not shared between boxes; one operation at a
 * time (the agent's lock guarantees it).
 */
export class AcmeSession {
  /** The account was registered (again) during this session: not twice. */
  private registered = false;
  /** Told every account URL newAccount gives that differs from the one the session started with. */
  private onAccountUrl: ((url: string) => void) | undefined;
  /** The problem type of the last response (RFC 8555 §6.7), for the errors acme-client reduces to their detail. */
  private lastProblemType: string | undefined;
  /**
   * Rejects once a request was turned away because the CA has answered
   * nothing for a while (the gate's breaker, lib/gate.ts): acme-client's
   * status polling retries any error about 40 times with its backoff, which
   * would keep a box of a silent CA waiting some 40 s more for nothing.
   */
  private readonly caSilent: Promise<never>;
  private tellCaSilent: (e: TransportError) => void = () => undefined;

  private constructor(
    private readonly client: acme.Client,
    private readonly http: HttpClientInternals,
    readonly directoryUrl: string,
    private readonly tuning: SessionTuning,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.caSilent = new Promise<never>((_resolve, reject) => (this.tellCaSilent = reject));
    this.caSilent.catch(() => undefined);
  }

  /** acme-client's status polling, ended at once by a breaker refusal (see caSilent). */
  private poll<T>(item: T): Promise<T> {
    return Promise.race([this.client.waitForValidStatus(item), this.caSilent]);
  }

  /**
   * Build the client over `transport`. With `account.url`, the session
   * signs with it and sends nothing yet; without, it finds or creates the
   * account of `account.keyPem` (newAccount, RFC 8555 §7.3 and §7.3.1).
   * Resolves with the session and the account URL (which the caller stores
   * when it changed); a URL registered later in the session (the CA had
   * forgotten the account) goes to `onAccountUrl`. Rejects with the
   * server's problem or a TransportError.
   */
  static async open(o: {
    directoryUrl: string;
    account: AccountSlot;
    transport: BoxTransport;
    tuning: SessionTuning;
    signal?: AbortSignal;
    /** The directory already fetched (RFC 8555 §7.1.1), to save a round trip. */
    directory?: Record<string, unknown>;
    /** Called with the new URL when the account is registered again during the session. */
    onAccountUrl?: (url: string) => void;
  }): Promise<{ session: AcmeSession; accountUrl: string }> {
    const client = new acme.Client({
      directoryUrl: o.directoryUrl,
      accountKey: o.account.keyPem,
      ...(o.account.url ? { accountUrl: o.account.url } : {}),
      backoffAttempts: o.tuning.pollAttempts,
      backoffMin: o.tuning.pollMinMs,
      backoffMax: o.tuning.pollMaxMs,
    });
    const http = (client as unknown as { http: HttpClientInternals }).http;
    // acme-client keeps the PEM and hands it to sign() for every JWS, which makes OpenSSL 3 decode it
    // each time (~0.5 ms, a quarter of the simulator's CPU per certificate in bench/fleet-issuance).
    // A KeyObject is accepted everywhere acme-client uses the key (sign, createPublicKey for the JWK).
    const key = o.account.key ?? createPrivateKey(o.account.keyPem);
    http.accountKey = key;
    // acme-client derives the JWK once per client, i.e. once per operation (a public-key export each).
    http.jwk = jwkOf(key);
    const session = new AcmeSession(client, http, o.directoryUrl, o.tuning, o.signal);
    session.install(o.transport);
    if (o.directory) {
      const cache = http as unknown as { directoryCache: unknown; directoryTimestamp: number };
      cache.directoryCache = o.directory;
      cache.directoryTimestamp = Math.floor(Date.now() / 1000);
    }
    if (!o.account.url) await session.register();
    session.onAccountUrl = o.onAccountUrl;
    return { session, accountUrl: client.getAccountUrl() };
  }

  /** The account URL the session signs with now. */
  get accountUrl(): string {
    return this.client.getAccountUrl();
  }

  /**
   * newAccount with the session's key: 200 = the CA still knows it, 201 =
   * registered (again). Through acme-client's api layer: Client.createAccount()
   * follows a 200 with an account update that Pebble refuses as an "empty
   * update" (one extra round trip for nothing anyway).
   */
  private async register(): Promise<void> {
    const api = (this.client as unknown as { api: { createAccount(d: object): Promise<Raw> } }).api;
    const before = (this.client as unknown as { api: { accountUrl: string | null } }).api.accountUrl;
    await api.createAccount({ termsOfServiceAgreed: true });
    this.registered = true;
    const now = this.client.getAccountUrl();
    if (now !== before) this.onAccountUrl?.(now);
  }

  /**
   * The CA no longer knows the account a kid request named (RFC 8555 §7.3.1
   * accountDoesNotExist; Boulder's unauthorized; Pebble after a restart may
   * have given the URL to another key, and the JWS then fails to verify).
   */
  private accountGone(r: Raw): boolean {
    const p = problemOf(r);
    if (!p || r.status < 400 || r.status > 403) return false;
    return (
      p.type === 'urn:ietf:params:acme:error:accountDoesNotExist' ||
      p.type === 'urn:ietf:params:acme:error:unauthorized' ||
      (p.type === 'urn:ietf:params:acme:error:malformed' && /JWS verification/i.test(p.detail))
    );
  }

  /** Authorization URLs named by this session's orders (RFC 8555 §7.1.3), for {@link kindOf}; the latest few. */
  private readonly authzUrls = new Set<string>();

  /** Remember the authorization URLs an order names (a newOrder's or an order's answer). */
  private noteAuthorizations(data: unknown): void {
    const list = (data as { authorizations?: unknown } | null)?.authorizations;
    if (!Array.isArray(list)) return;
    if (this.authzUrls.size > 64) this.authzUrls.clear();
    for (const u of list) if (typeof u === 'string') this.authzUrls.add(u);
  }

  /** Which of the kinds the transport keeps apart (see KindLock in transport.ts) a request to `url` is. */
  private kindOf(url: string): AcmeRequestKind | undefined {
    const dir = (this.http as unknown as { directoryCache?: { newOrder?: unknown } }).directoryCache;
    if (dir?.newOrder === url) return 'newOrder';
    return this.authzUrls.has(url) ? 'authz' : undefined;
  }

  /** Route this client's HTTP through the box's transport, with our nonce and retry rules. */
  private install(transport: BoxTransport): void {
    const http = this.http;
    http.maxBadNonceRetries = this.tuning.badNonceRetries;
    const originalSigned = (Object.getPrototypeOf(http) as HttpClientInternals).signedRequest.bind(http);

    const origin = new URL(this.directoryUrl).origin;
    /** One request with our retry rules; `pool`: keep the answer's Replay-Nonce for a later signed request. */
    const send = async (
      url: string,
      method: string,
      opts: { headers?: Record<string, string>; data?: unknown },
      pool: boolean,
    ): Promise<Raw> => {
      const signed = method.toLowerCase() === 'post';
      // What acme-client's own request() would add: JWS bodies are application/jose+json (RFC 8555 §6.2).
      if (signed)
        opts = { ...opts, headers: { ...(opts.headers ?? {}), 'Content-Type': 'application/jose+json' } };
      // Unsigned GET/HEAD carry no nonce: retrying them as they are is safe.
      for (let attempt = 0; ; attempt++) {
        const kind = this.kindOf(url);
        const resp = await transport
          .request(url, method, kind ? { ...opts, kind } : opts)
          .catch((e: unknown) => {
            if (e instanceof TransportError && e.code === 'ECASILENT') this.tellCaSilent(e);
            throw e;
          });
        this.lastProblemType = problemOf(resp)?.type;
        this.noteAuthorizations(resp.data);
        const nonce = resp.headers['replay-nonce'];
        // A badNonce answer's nonce is used by acme-client's own retry (http.js); keep it out of the pool.
        if (pool && nonce && this.lastProblemType !== 'urn:ietf:params:acme:error:badNonce')
          transport.nonces.keep(origin, nonce);
        if (signed || !this.retryable(resp) || attempt >= this.tuning.serverErrorRetries) return resp;
        await sleep(this.retryDelay(resp, attempt), this.signal);
      }
    };
    http.request = (url, method, opts = {}) => send(url, method, opts, true);

    // acme-client's own JWS with a one-shot crypto.sign instead of a Sign object per request (a
    // fifth less CPU per ES256 signature here); same header, payload and ieee-p1363 signature.
    http.createSignedBody = (url, payload = null, opts = {}) => {
      const { alg, hash } = jwsAlgorithm(http.getJwk());
      const body = http.prepareSignedBody(alg, url, payload, opts);
      body.signature = sign(hash, Buffer.from(`${body.protected}.${body.payload}`, 'utf8'), {
        key: http.accountKey as KeyObject,
        padding: cryptoConstants.RSA_PKCS1_PADDING,
        dsaEncoding: 'ieee-p1363',
      }).toString('base64url');
      return body;
    };

    http.getNonce = async () => {
      const n = transport.nonces.take(origin);
      if (n) return n;
      // GET, where acme-client sends HEAD (RFC 8555 §7.2 allows both): after Pebble's HEAD answer
      // Node's client does not reuse the socket, which cost a second TLS handshake per operation.
      // Not pooled: this one is handed out at once.
      const resp = await send(await http.getResourceUrl('newNonce'), 'get', {}, false);
      const nonce = resp.headers['replay-nonce'];
      if (!nonce) throw new Error(`no Replay-Nonce from the ACME server's newNonce (HTTP ${resp.status})`);
      return nonce;
    };

    http.signedRequest = async (url, payload, opts = {}, attempts = 0) => {
      let o = opts;
      for (let attempt = 0; ; attempt++) {
        const resp = await originalSigned(url, payload, o, attempts);
        if (o.kid && !this.registered && this.accountGone(resp)) {
          // Registered again with the same key, then the same request under the new URL.
          await this.register();
          return http.signedRequest(url, payload, { ...o, kid: this.client.getAccountUrl(), nonce: null });
        }
        if (!this.retryable(resp) || attempt >= this.tuning.serverErrorRetries) return resp;
        await sleep(this.retryDelay(resp, attempt), this.signal);
        // A fresh nonce for the retry: the old one was spent (node-acme-client#103).
        o = { ...o, nonce: null };
      }
    };
  }

  private retryable(r: Raw): boolean {
    return r.status === 429 || (r.status >= 500 && r.status <= 599);
  }

  /** Retry-After when given (RFC 8555 §6.6), else a doubling default; a Retry-After beyond the cap fails fast. */
  private retryDelay(r: Raw, attempt: number): number {
    const after = retryAfterMs(r.headers['retry-after'], Date.now());
    if (after !== undefined) {
      if (after > this.tuning.maxRetryAfterMs) {
        const p = problemOf(r);
        throw new Error(
          `the ACME server asks to retry after ${Math.ceil(after / 1000)} s (HTTP ${r.status}${p?.detail ? `: ${p.detail}` : ''})`,
        );
      }
      return after;
    }
    return this.tuning.serverErrorDelayMs * 2 ** attempt;
  }

  /**
   * Issue a certificate for `identifiers` (a DNS name or an IP address,
   * RFC 8738, or a DNS name and an IP address in one order) with a CSR
   * signed by `key`: new order, answer every pending authorization in turn
   * (already valid ones are skipped: authz reuse), finalize (waiting for
   * "ready" only when the CA asks for it), download. Resolves with the PEM
   * chain as the CA sent it (leaf first). The caller verifies it.
   */
  async obtain(
    identifiers: readonly AcmeIdentifier[],
    key: KeyObject,
    responder: ChallengeResponder,
  ): Promise<string> {
    let order = await this.client.createOrder(orderRequest(identifiers));
    const authzs = await this.client.getAuthorizations(order);
    for (const authz of authzs) {
      if (authz.status === 'valid') continue; // reused authorization (RFC 8555 §7.1.4)
      if (authz.status !== 'pending')
        throw new Error(`the authorization for ${authz.identifier.value} is ${authz.status}`);
      await this.answer(authz, responder);
    }
    const csr = createCsr(csrRequest(identifiers, key));
    // RFC 8555 §7.1.6: with every authorization valid the order is "ready", so finalize at once
    // (one request less per certificate than polling for "ready" first); only a CA that answers
    // orderNotReady (§7.4) is polled until the order is ready, then finalized again.
    let finalized: acme.Order;
    try {
      finalized = await this.client.finalizeOrder(order, csr);
    } catch (e) {
      if (this.lastProblemType !== 'urn:ietf:params:acme:error:orderNotReady') throw e;
      // waitForValidStatus returns the bare resource: keep the order URL that finalize and download need.
      order = { ...(await this.poll(order)), url: order.url };
      finalized = await this.client.finalizeOrder(order, csr);
    }
    // The CA signs after answering "processing" (RFC 8555 §7.4): a poll at once finds it unfinished,
    // and Pebble 2.4 can even wedge when an order is read while it completes it (letsencrypt/pebble#554).
    if (finalized.status === 'processing') await sleep(this.tuning.pollMinMs, this.signal);
    return this.client.getCertificate(finalized);
  }

  private async answer(authz: acme.Authorization, responder: ChallengeResponder): Promise<void> {
    const identifier = authz.identifier as AcmeIdentifier;
    const offered = authz.challenges.map((c) => c.type as string).sort();
    const type = pickChallenge(identifier, offered, responder.types());
    const challenge = authz.challenges.find((c) => (c.type as string) === type)!;
    const keyAuthorization = await this.client.getChallengeKeyAuthorization(challenge);
    const c: ChallengeToAnswer = {
      type,
      identifier: { type: identifier.type, value: identifier.value },
      token: challenge.token,
      keyAuthorization,
    };
    await responder.present(c);
    try {
      await this.client.completeChallenge(challenge);
      // The CA validates only after this answer, so a poll at once finds the challenge pending: one
      // signed request wasted on both sides per certificate (bench/fleet-issuance). First poll after
      // the shortest poll delay; acme-client's backoff doubles from there.
      await sleep(this.tuning.pollMinMs, this.signal);
      // Keep answering until the challenge is valid: the VA fetches several times (peers.md §1).
      await this.poll(challenge);
    } catch (e) {
      throw new Error(`${type} challenge for ${authz.identifier.value} failed: ${messageOf(e)}`);
    } finally {
      responder.remove(c);
    }
  }

  /**
   * Revoke `certPem` (its leaf), signed with the account key (RFC 8555
   * §7.6), with an RFC 5280 reason code (4 superseded, 1 keyCompromise).
   */
  async revoke(certPem: string, reason: number): Promise<void> {
    const leaf = acme.crypto.splitPemChain(certPem)[0]!;
    await this.client.revokeCertificate(leaf, { reason });
  }
}

/**
 * The newOrder payload (RFC 8555 §7.4) for `identifiers`: each one as given,
 * in order. Throws Error for none or more than MAX_ACME_IDENTIFIERS.
 */
export function orderRequest(identifiers: readonly AcmeIdentifier[]): { identifiers: AcmeIdentifier[] } {
  if (identifiers.length === 0 || identifiers.length > MAX_ACME_IDENTIFIERS)
    throw new Error(`an order names 1 to ${MAX_ACME_IDENTIFIERS} identifiers, not ${identifiers.length}`);
  return { identifiers: identifiers.map((i) => ({ type: i.type, value: i.value })) };
}

/**
 * What the CSR of an order carries: every identifier as a SAN (dNSName or
 * iPAddress: createCsr tells them apart), and the first DNS name as the CN;
 * an order of addresses only has no CN (RFC 8738 §3: the IP goes in the SAN).
 */
export function csrRequest(
  identifiers: readonly AcmeIdentifier[],
  key: KeyObject,
): { key: KeyObject; commonName?: string; altNames: string[] } {
  const dns = identifiers.find((i) => i.type === 'dns');
  const altNames = identifiers.map((i) => i.value);
  return dns ? { key, commonName: dns.value, altNames } : { key, altNames };
}

/**
 * The challenge to answer for `identifier`: the first of the box's types
 * (in its preference) that the CA offers and that may validate this kind of
 * identifier (CHALLENGES_BY_IDENTIFIER: never dns-01 for an address). Throws
 * Error naming what was offered when there is none.
 */
export function pickChallenge(
  identifier: AcmeIdentifier,
  offered: readonly string[],
  boxTypes: readonly ChallengeType[],
): ChallengeType {
  const allowed = CHALLENGES_BY_IDENTIFIER[identifier.type] ?? [];
  const type = boxTypes.find((t) => offered.includes(t) && allowed.includes(t));
  if (type) return type;
  const why =
    identifier.type === 'ip' && offered.includes('dns-01')
      ? ' (dns-01 cannot validate an IP address, RFC 8738 §7)'
      : '';
  throw new Error(
    `the CA offers ${offered.join(', ') || 'no challenge'} for ${identifier.value}, but the box can answer only ${boxTypes.join(', ') || 'none'}${why}`,
  );
}

/** The JWS algorithm of an account key's JWK (RFC 7518 §3.1), as acme-client 5.4.0 chooses it. */
function jwsAlgorithm(jwk: Record<string, unknown>): { alg: string; hash: string } {
  if (jwk['kty'] === 'EC' && jwk['crv']) {
    if (jwk['crv'] === 'P-384') return { alg: 'ES384', hash: 'sha384' };
    if (jwk['crv'] === 'P-521') return { alg: 'ES512', hash: 'sha512' };
    return { alg: 'ES256', hash: 'sha256' };
  }
  return { alg: 'RS256', hash: 'sha256' };
}

/** JWKs of account keys (RFC 7517, acme-client's form: members sorted), derived once per key. */
const JWKS = new WeakMap<KeyObject, Record<string, unknown>>();

function jwkOf(key: KeyObject): Record<string, unknown> {
  let jwk = JWKS.get(key);
  if (!jwk)
    JWKS.set(key, (jwk = acme.crypto.getJwk(key as unknown as string) as unknown as Record<string, unknown>));
  return jwk;
}

/** A one-line message from anything thrown by acme-client or the transport. */
export function messageOf(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/\s+/g, ' ').trim() || 'unknown error';
}

/**
 * The self-signed certificate a box presents for a tls-alpn-01 challenge
 * (RFC 8737 §3): SAN = the identifier (an IP SAN for IP identifiers,
 * RFC 8738 §6), and the critical acmeIdentifier extension holding the
 * SHA-256 of the key authorization. Built by acme-client with `keyPem`.
 */
export async function createTlsAlpnCertificate(
  identifier: AcmeIdentifier,
  keyAuthorization: string,
  keyPem: string,
): Promise<string> {
  const authz = { identifier, status: 'pending', challenges: [], url: '' } as unknown as acme.Authorization;
  const [, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization, keyPem);
  return cert.toString();
}
