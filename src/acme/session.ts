/**
 * One conversation of a box with its ACME server (RFC 8555), driven here
 * request by request over the box's own {@link BoxTransport}; acme-client
 * 5.4.0 is used only to build the tls-alpn-01 certificate
 * ({@link createTlsAlpnCertificate}), and this is the only file that imports
 * it.
 *
 * Why not acme-client's Client: it sends through one process-wide axios
 * (trust and DNS would leak between boxes: see transport.ts), asks newNonce
 * before every signed request, and its layers (api, HttpClient, JWS, its
 * retry helpers) cost more CPU per request than the CA spent answering it in
 * a lab of a thousand boxes (issue 16). The rules below are those the
 * session kept on top of acme-client before, now in one place:
 * - Every request goes through the box's transport (trust and DNS per box).
 * - Nonces: the Replay-Nonce of every response goes to the transport's pool
 *   (RFC 8555 §7.2 allows it; shared by the boxes of a pool, see
 *   transport.ts), so newNonce is asked only when the pool is empty.
 * - badNonce: the request is signed again with the nonce of the error
 *   response (RFC 8555 §6.5), up to tuning.badNonceRetries times (Pebble can
 *   reject half of all nonces).
 * - 429 and 5xx: the request is signed again with a fresh nonce (a JWS is
 *   never sent twice: publishlab/node-acme-client#103), honouring
 *   Retry-After (RFC 8555 §6.6), a bounded number of times.
 * - The account: a box that stored its account URL signs with it (kid) at
 *   once, with no newAccount (one signed request less per renew and
 *   revoke); one without asks newAccount (RFC 8555 §7.3, §7.3.1: the same
 *   key gives back the existing account). A CA that has forgotten the
 *   account (Pebble forgets on restart) answers a kid request with
 *   accountDoesNotExist, unauthorized, or a JWS that no longer verifies
 *   (another account now has that URL): the session registers the key
 *   again, once, and sends that request again with the new URL.
 * - Status polls back off as acme-client's did (first delay, doubling, a
 *   cap, a number of attempts); an error answer or a failed request is
 *   polled again, an "invalid" status ends at once.
 * - Error messages are acme-client's: the problem document's detail, or the
 *   answer's JSON when it has none.
 * - The order flow: IP identifiers (RFC 8738) as well as DNS names, in one
 *   order when both are given.
 */
import type * as acme from 'acme-client';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import {
  CHALLENGES_BY_IDENTIFIER,
  MAX_ACME_IDENTIFIERS,
  type AcmeIdentifier,
  type ChallengeType,
} from '../device/acme-identifiers.js';
import { createCsr } from '../pki/csr.js';
import { pemReader } from '../pki/pem.js';
import { signerFor, type JwsSigner } from './jws.js';
import type { AcmeHttpResponse, AcmeRequestKind, BoxTransport } from './transport.js';
import { retryAfterMs, TransportError } from './transport.js';

/** How hard to poll and retry. All delays in ms. */
export interface SessionTuning {
  /** Status polling of challenges and orders: first delay, cap (doubling in between), attempts. */
  pollMinMs: number;
  pollMaxMs: number;
  pollAttempts: number;
  /** Retries of a request answered 429 or 5xx. */
  serverErrorRetries: number;
  /** Wait before such a retry when the server gives no Retry-After; doubles each time. */
  serverErrorDelayMs: number;
  /** Longest wait honoured from a Retry-After header; a longer one fails the request instead. */
  maxRetryAfterMs: number;
  /** badNonce retries per request. */
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
  /**
   * True when every identifier must be validated again, even one the CA
   * would take on an authorization it reuses (RFC 8555 §7.1.4): the session
   * then deactivates each reused authorization (§7.5.2) and orders again, so
   * that the CA asks for a challenge. Absent or false: a reused
   * authorization is taken as it is, as every ACME client does.
   */
  revalidate?(): boolean;
}

/** Where the session keeps the account (the box's store). */
export interface AccountSlot {
  keyPem: string;
  /** keyPem already parsed (spares a decode per session); must be the same key. */
  key?: KeyObject;
  url: string | null;
}

type Raw = AcmeHttpResponse;

/** An ACME resource as the CA sent it, with the URL it was read from. */
type Resource = Record<string, unknown> & { url: string };

interface Challenge {
  type: string;
  url: string;
  token: string;
}

interface Authorization extends Resource {
  status?: string;
  identifier: { type: string; value: string };
  challenges: Challenge[];
}

interface Order extends Resource {
  status?: string;
  authorizations?: string[];
  finalize?: string;
  certificate?: string;
}

const BAD_NONCE = 'urn:ietf:params:acme:error:badNonce';
/** New orders placed after deactivating reused authorizations (ChallengeResponder.revalidate), at most. */
const MAX_REORDERS = 3;
/** RFC 8555 §7.1.6 statuses a poll stops at. */
const VALID_STATES: readonly unknown[] = ['ready', 'valid'];
/** ... and those it keeps polling. */
const PENDING_STATES: readonly unknown[] = ['pending', 'processing'];

/** An ACME problem document's type and detail (RFC 8555 §6.7), when the body is one. */
function problemOf(r: Raw): { type: string; detail: string } | undefined {
  const d = r.data as { type?: unknown; detail?: unknown } | undefined;
  if (d && typeof d === 'object' && typeof d.type === 'string')
    return { type: d.type, detail: typeof d.detail === 'string' ? d.detail : '' };
  return undefined;
}

/**
 * The error of an unexpected answer, worded as acme-client 5.4.0 words it
 * (util.formatResponseError): the problem's detail, else the body as JSON.
 */
function answerError(r: Raw): Error {
  const d = r.data;
  let result: unknown = '';
  if (d && typeof d === 'object') {
    const o = d as { error?: unknown; detail?: unknown };
    if (o.error) result = (o.error as { detail?: unknown }).detail || o.error;
    else result = o.detail || JSON.stringify(d);
  } else if (d) result = JSON.stringify(d);
  // A detail that is not text (acme-client would throw a TypeError here) is shown as JSON.
  const text = typeof result === 'string' ? result : JSON.stringify(result);
  return new Error(text.replace(/\n/g, ''));
}

const firstPemDer = pemReader({ strictness: 'loose' });

/** The base64url DER of the first PEM block of `pem` (a CSR, or a chain's leaf). */
function firstPemBodyB64u(pem: string): string {
  const der = firstPemDer(pem);
  if (!der) throw new Error('Unable to parse PEM body from string');
  return der.toString('base64url');
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

/** A final answer of a status poll (the resource is invalid): not polled again. */
class PollEnded extends Error {}

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
  /** The problem type of the last response (RFC 8555 §6.7). */
  private lastProblemType: string | undefined;
  /** The account URL the session signs with (kid); null until newAccount gave one. */
  private account: string | null;
  /** The directory (RFC 8555 §7.1.1): the caller's, else fetched at the first need. */
  private directory: Record<string, unknown> | undefined;
  private readonly signer: JwsSigner;
  /** The server's origin: nonces are pooled by it. */
  private readonly origin: string;
  /**
   * Rejects once a request was turned away because the CA has answered
   * nothing for a while (the gate's breaker, lib/gate.ts): a status poll
   * retries any error up to pollAttempts times with its backoff, which
   * would keep a box of a silent CA waiting some 40 s more for nothing.
   */
  private readonly caSilent: Promise<never>;
  private tellCaSilent: (e: TransportError) => void = () => undefined;

  private constructor(
    key: KeyObject,
    accountUrl: string | null,
    private readonly transport: BoxTransport,
    readonly directoryUrl: string,
    private readonly tuning: SessionTuning,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.signer = signerFor(key);
    this.account = accountUrl;
    this.origin = new URL(directoryUrl).origin;
    this.caSilent = new Promise<never>((_resolve, reject) => (this.tellCaSilent = reject));
    this.caSilent.catch(() => undefined);
  }

  /**
   * Open a session over `transport`. With `account.url`, the session
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
    // Parsing the PEM costs OpenSSL 3 about 0.4 ms: the agent passes the KeyObject it keeps.
    const key = o.account.key ?? createPrivateKey(o.account.keyPem);
    const session = new AcmeSession(key, o.account.url, o.transport, o.directoryUrl, o.tuning, o.signal);
    session.directory = o.directory;
    if (!o.account.url) await session.register();
    session.onAccountUrl = o.onAccountUrl;
    return { session, accountUrl: session.accountUrl };
  }

  /** The account URL the session signs with now. */
  get accountUrl(): string {
    if (!this.account) throw new Error('No account URL found, register account first');
    return this.account;
  }

  /**
   * newAccount with the session's key (jwk, no kid): 200 = the CA still
   * knows it, 201 = registered (again); the account URL is the Location.
   * No account update follows (Pebble refuses an "empty update").
   */
  private async register(): Promise<void> {
    const before = this.account;
    const url = await this.resource('newAccount');
    const resp = await this.post(url, { termsOfServiceAgreed: true }, [200, 201], false);
    const location = resp.headers['location'];
    if (location) this.account = location;
    this.registered = true;
    if (this.account && this.account !== before) this.onAccountUrl?.(this.account);
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
    if (this.directory?.['newOrder'] === url) return 'newOrder';
    return this.authzUrls.has(url) ? 'authz' : undefined;
  }

  /**
   * One exchange through the transport: `jws` is a signed body (POST), or
   * none (GET). The answer's Replay-Nonce goes to the pool when `pool`
   * (never a badNonce answer's: its retry uses it). A breaker refusal is
   * told to the polls (caSilent).
   */
  private async exchange(url: string, jws: Buffer | undefined, pool: boolean): Promise<Raw> {
    const kind = this.kindOf(url);
    let resp: Raw;
    try {
      resp = await this.transport.request(url, jws ? 'POST' : 'GET', { jws, kind });
    } catch (e) {
      if (e instanceof TransportError && e.code === 'ECASILENT') this.tellCaSilent(e);
      throw e;
    }
    this.lastProblemType = problemOf(resp)?.type;
    this.noteAuthorizations(resp.data);
    const nonce = resp.headers['replay-nonce'];
    if (pool && nonce && this.lastProblemType !== BAD_NONCE) this.transport.nonces.keep(this.origin, nonce);
    return resp;
  }

  /** An unsigned GET, retried as it is on 429/5xx (it carries no nonce). */
  private async get(url: string, pool: boolean): Promise<Raw> {
    for (let attempt = 0; ; attempt++) {
      const resp = await this.exchange(url, undefined, pool);
      if (!this.retryable(resp) || attempt >= this.tuning.serverErrorRetries) return resp;
      await sleep(this.retryDelay(resp, attempt), this.signal);
    }
  }

  /** The directory's URL of `resource`, fetching the directory at the first need. */
  private async resource(resource: string): Promise<string> {
    if (!this.directory) {
      const resp = await this.get(this.directoryUrl, true);
      if (resp.status >= 400)
        throw new Error(
          `Attempting to read ACME directory returned error ${resp.status}: ${this.directoryUrl}`,
        );
      if (!resp.data || typeof resp.data !== 'object')
        throw new Error('Attempting to read ACME directory returned no data');
      this.directory = resp.data as Record<string, unknown>;
    }
    const url = this.directory[resource];
    if (typeof url !== 'string' || !url)
      throw new Error(`Unable to locate API resource URL in ACME directory: "${resource}"`);
    return url;
  }

  /** A nonce from the pool, else from newNonce (RFC 8555 §7.2). */
  private async nonce(): Promise<string> {
    const n = this.transport.nonces.take(this.origin);
    if (n) return n;
    // GET, where HEAD is allowed too: after Pebble's HEAD answer Node's client once dropped the
    // kept-alive connection. Not pooled: this one is used at once.
    const resp = await this.get(await this.resource('newNonce'), false);
    const nonce = resp.headers['replay-nonce'];
    if (!nonce) throw new Error(`no Replay-Nonce from the ACME server's newNonce (HTTP ${resp.status})`);
    return nonce;
  }

  /**
   * A signed request (RFC 8555 §6.2) of `payload` as JSON, or POST-as-GET
   * when null (§6.3), naming the account by its URL (kid) unless `kid` is
   * false (newAccount: the key itself). badNonce, a forgotten account and
   * 429/5xx are handled as the file comment says; an answer whose status is
   * not in `expect` then rejects with the server's problem.
   */
  private async post(
    url: string,
    payload: object | null,
    expect: readonly number[],
    kid = true,
  ): Promise<Raw> {
    const text = payload === null ? null : JSON.stringify(payload);
    let resp: Raw;
    for (let serverErrors = 0; ; serverErrors++) {
      const account = kid ? this.accountUrl : null;
      // A fresh nonce for each retry of a 429/5xx: the old one was spent (node-acme-client#103).
      let nonce = await this.nonce();
      for (let badNonces = 0; ; badNonces++) {
        resp = await this.exchange(url, this.signer.body(url, text, nonce, account), true);
        const next = resp.headers['replay-nonce'];
        if (resp.status !== 400 || this.lastProblemType !== BAD_NONCE) break;
        if (badNonces >= this.tuning.badNonceRetries || !next) break;
        nonce = next;
      }
      if (account && !this.registered && this.accountGone(resp)) {
        // Registered again with the same key, then the same request under the new URL.
        await this.register();
        return this.post(url, payload, expect, kid);
      }
      if (!this.retryable(resp) || serverErrors >= this.tuning.serverErrorRetries) break;
      await sleep(this.retryDelay(resp, serverErrors), this.signal);
    }
    if (expect.length > 0 && !expect.includes(resp.status)) throw answerError(resp);
    return resp;
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

  /** POST-as-GET `url` (RFC 8555 §6.3), answered 200: the resource, with its URL. */
  private async fetch<T extends Resource>(url: string): Promise<T> {
    const resp = await this.post(url, null, [200]);
    return { ...(resp.data as object), url } as T;
  }

  /**
   * Poll `url` until the resource is ready or valid and resolve with it as
   * the CA sent it: first wait pollMinMs, doubling up to pollMaxMs, at most
   * pollAttempts requests (acme-client's waitForValidStatus). Any failure is
   * polled again; "invalid" ends at once with the server's problem, and so
   * does a breaker refusal (caSilent) or the operation's cancellation.
   */
  private poll(url: string): Promise<Record<string, unknown>> {
    return Promise.race([this.pollUntilValid(url), this.caSilent]);
  }

  private async pollUntilValid(url: string): Promise<Record<string, unknown>> {
    for (let attempt = 0; ; attempt++) {
      let failure: unknown;
      try {
        const resp = await this.post(url, null, [200]);
        const data = resp.data as Record<string, unknown>;
        const status = data?.['status'];
        if (status === 'invalid') throw new PollEnded(answerError(resp).message);
        if (VALID_STATES.includes(status)) return data;
        failure = new Error(
          PENDING_STATES.includes(status)
            ? 'Operation is pending or processing'
            : `Unexpected item status: ${String(status)}`,
        );
      } catch (e) {
        if (e instanceof PollEnded || this.signal?.aborted) throw e;
        failure = e;
      }
      if (attempt + 1 >= this.tuning.pollAttempts) throw failure;
      await sleep(Math.min(this.tuning.pollMinMs * 2 ** attempt, this.tuning.pollMaxMs), this.signal);
    }
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
    let { order, authzs } = await this.newOrder(identifiers);
    for (let again = 0; responder.revalidate?.(); again++) {
      const reused = authzs.filter((a) => a.status === 'valid');
      if (reused.length === 0) break;
      // Pebble reuses a valid authorization in 1 order of 100 even at PEBBLE_AUTHZREUSE=0 (its
      // wfe.go: `rand.Intn(100) > percent`); each has a valid sibling at most, so a few rounds do.
      if (again === MAX_REORDERS)
        throw new Error(
          `the CA reused a valid authorization for ${reused[0]!.identifier.value} ${again + 1} times`,
        );
      for (const a of reused) await this.post(a.url, { status: 'deactivated' }, [200]);
      ({ order, authzs } = await this.newOrder(identifiers));
    }
    for (const authz of authzs) {
      if (authz.status === 'valid') continue; // reused authorization (RFC 8555 §7.1.4)
      if (authz.status !== 'pending')
        throw new Error(`the authorization for ${authz.identifier.value} is ${authz.status}`);
      await this.answer(authz, responder);
    }
    if (!order.finalize) throw new Error('Unable to finalize order, URL not found');
    const csr = { csr: firstPemBodyB64u(createCsr(csrRequest(identifiers, key))) };
    // RFC 8555 §7.1.6: with every authorization valid the order is "ready", so finalize at once
    // (one request less per certificate than polling for "ready" first); only a CA that answers
    // orderNotReady (§7.4) is polled until the order is ready, then finalized again.
    let finalized: Order;
    try {
      finalized = (await this.post(order.finalize, csr, [200])).data as Order;
    } catch (e) {
      if (this.lastProblemType !== 'urn:ietf:params:acme:error:orderNotReady') throw e;
      await this.poll(order.url);
      finalized = (await this.post(order.finalize, csr, [200])).data as Order;
    }
    if (!VALID_STATES.includes(finalized.status)) {
      // The CA signs after answering "processing" (RFC 8555 §7.4): a poll at once finds it unfinished,
      // and Pebble 2.4 can even wedge when an order is read while it completes it (letsencrypt/pebble#554).
      if (finalized.status === 'processing') await sleep(this.tuning.pollMinMs, this.signal);
      finalized = (await this.poll(order.url)) as Order;
    }
    if (!finalized.certificate) throw new Error('Unable to download certificate, URL not found');
    // POST-as-GET; the default chain (no alternate links followed: the box has no preferred chain).
    const chain = (await this.post(finalized.certificate, null, [200])).data;
    return typeof chain === 'string' ? chain : JSON.stringify(chain);
  }

  /** newOrder (RFC 8555 §7.4), then each of its authorizations as the CA sends it. */
  private async newOrder(
    identifiers: readonly AcmeIdentifier[],
  ): Promise<{ order: Order; authzs: Authorization[] }> {
    const created = await this.post(await this.resource('newOrder'), orderRequest(identifiers), [201]);
    const location = created.headers['location'];
    if (!location) throw new Error('Creating a new order did not return an order link');
    const order = { ...(created.data as object), url: location } as Order;
    const authzs = await Promise.all(
      (order.authorizations ?? []).map((url) => this.fetch<Authorization>(url)),
    );
    return { order, authzs };
  }

  private async answer(authz: Authorization, responder: ChallengeResponder): Promise<void> {
    const identifier = authz.identifier as AcmeIdentifier;
    const offered = authz.challenges.map((c) => c.type).sort();
    const type = pickChallenge(identifier, offered, responder.types());
    const challenge = authz.challenges.find((c) => c.type === type)!;
    const c: ChallengeToAnswer = {
      type,
      identifier: { type: identifier.type, value: identifier.value },
      token: challenge.token,
      // http-01 and tls-alpn-01 alike (RFC 8555 §8.3, RFC 8737 §3).
      keyAuthorization: this.signer.keyAuthorization(challenge.token),
    };
    await responder.present(c);
    try {
      // RFC 8555 §7.5.1: an empty object asks the CA to validate.
      await this.post(challenge.url, {}, [200]);
      // The CA validates only after this answer, so a poll at once finds the challenge pending: one
      // signed request wasted on both sides per certificate (bench/fleet-issuance). First poll after
      // the shortest poll delay; the backoff doubles from there.
      await sleep(this.tuning.pollMinMs, this.signal);
      // Keep answering until the challenge is valid: the VA fetches several times (peers.md §1).
      await this.poll(challenge.url);
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
    const payload = { reason, certificate: firstPemBodyB64u(certPem) };
    await this.post(await this.resource('revokeCert'), payload, [200]);
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
  // Loaded at the first tls-alpn-01 challenge, not with this module: acme-client brings ~300 modules
  // (axios, node-forge, @peculiar/*), about 0.3 s of CPU at every box or lab start and unit-test process.
  const { crypto } = await import('acme-client');
  const authz = { identifier, status: 'pending', challenges: [], url: '' } as unknown as acme.Authorization;
  const [, cert] = await crypto.createAlpnCertificate(authz, keyAuthorization, keyPem);
  return cert.toString();
}
