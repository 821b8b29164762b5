/**
 * The network path of one box to its ACME server: HTTPS verified against the
 * box's CA list only, names resolved through the box's name servers only.
 *
 * Why not acme-client's axios: acme-client 5.4.0 sends everything through
 * one process-wide axios instance (acme.axios) whose defaults and retry
 * interceptor are shared by every box in the process. Setting a CA there
 * would let one box's trust leak to all others, and its interceptor retries
 * TLS errors for ~75 s and then throws a misleading TypeError
 * (peers.md §2). So every request of an AcmeSession goes through
 * {@link BoxTransport.request}: connections verified with the box's own TLS
 * context (http1.ts's pool, not node:https: see there why), nothing global
 * is read or written, and acme.axios is never used.
 *
 * Verification is never disabled for a request. The only handshake made
 * with rejectUnauthorized:false is {@link inspectServerChain}, a diagnostic
 * that sends no byte of application data and exists only so that a refusal
 * can name the CA to add to the CA list.
 */
import { promises as dnsPromises } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import {
  connect as tlsConnect,
  createSecureContext,
  type DetailedPeerCertificate,
  type PeerCertificate,
  type SecureContext,
} from 'node:tls';
import type { ConnectFaults } from '../lib/connect-faults.js';
import { GateSilentError, whenAborted, type GateMap } from '../lib/gate.js';
import { Http1Pool, type Http1Response } from './http1.js';

/** What {@link BoxTransport} needs from the box. */
export interface BoxTransportOptions {
  /** PEMs the server's chain must lead to (the box's CA list). Empty: nothing is trusted. */
  caPems: string[];
  /** createTrustContext(caPems), when the caller keeps one (it must be made from the same caPems). */
  trustContext?: SecureContext;
  /** The box's name servers: "ip", "ipv4:port" or "[ipv6]:port" (`ip name-server`). */
  nameServers: string[];
  /** Per request, from connect to the last byte. */
  requestTimeoutMs: number;
  /** Per DNS query (the resolver tries each server twice). */
  dnsTimeoutMs: number;
  /** Aborts every request of the transport (clear, shutdown). */
  signal?: AbortSignal;
  /** RFC 8555 §6.1: clients MUST send a User-Agent. */
  userAgent: string;
  /**
   * Bounds the requests in flight to one ACME server (keyed by origin) from
   * every box that shares the map (a cluster: see ClusterRunner). A request
   * waits for its place before it connects; its deadline starts when it has
   * one. Default: no bound.
   */
  gates?: GateMap;
  /**
   * A request that must wait for its place behind at least this many others
   * first closes this transport's idle connections (default
   * DROP_IDLE_AT_QUEUE). Below it, a box keeps its connection between the
   * requests of an operation (fewer handshakes); above it, thousands of
   * boxes whose orders all wait would otherwise hold a connection each while
   * they wait (10,000 boxes: 10,000 more open files in the lab's process).
   * Only a transport with connections of its own (no trustContext given):
   * boxes sharing a pool (see SHARED_AGENTS) reuse its few connections.
   */
  dropIdleAtQueue?: number;
  /** Faults the box's runner injects on this path (read at each request; see ConnectFaults). */
  faults?: ConnectFaults;
}

/**
 * A TLS client context that trusts exactly `caPems` (none when empty: an
 * explicit list replaces Node's bundled roots), TLS 1.2 or later.
 */
export function createTrustContext(caPems: string[]): SecureContext {
  return createSecureContext({ ca: caPems, minVersion: 'TLSv1.2' });
}

/** A response: lower-case headers, the body parsed when it is JSON, else its text. */
export interface AcmeHttpResponse {
  status: number;
  headers: Record<string, string>;
  data: unknown;
}

/** What failed on the way to the ACME server. `message` is one line for the status. */
export type TransportFailure = 'dns' | 'connect' | 'tls' | 'timeout' | 'aborted' | 'protocol';

export class TransportError extends Error {
  constructor(
    readonly kind: TransportFailure,
    message: string,
    /** The Node/OpenSSL error code, e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE, ECONNREFUSED. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/**
 * The requests to a CA that must not overlap: a newOrder, and any POST to an
 * authorization URL (its POST-as-GET fetch, or a deactivation).
 */
export type AcmeRequestKind = 'newOrder' | 'authz';

/**
 * EMULATION: peer workaround (issue 16): Pebble 2.4.0 deadlocks when an
 * authorization POST overlaps newOrders to the same CA. wfe.Authz
 * (wfe/wfe.go: `authz.Lock()` then validPOSTAsGET or getAcctByKey) holds the
 * authorization's write lock while it waits for the store's read lock
 * (GetAccountByKey, memorystore.go:92); that read lock queues behind a
 * newOrder's pending store write (AddAuthorization, memorystore.go:235),
 * which waits for another newOrder holding the store's read lock in
 * FindValidAuthorization (memorystore.go:262) while it waits for that
 * authorization's read lock (:268): proven by a goroutine dump, see the
 * README's "Pebble stall". No Pebble setting avoids it; the cycle needs both
 * kinds in flight at once, so the client never lets them be: any number of
 * one kind, never both. The challenge POST is not in the authz kind: Pebble's
 * updateChallenge looks the account up before it takes the authorization's
 * lock and holds that lock only for reads that take no other lock.
 *
 * Fair: a request of the kind holding the lock joins at once only while no
 * request of the other kind waits; when the last holder ends, every waiter of
 * the other kind goes, so the kinds take turns and neither starves. Waiting
 * ends by a grant or by the caller's signal.
 */
export class KindLock {
  private kind: AcmeRequestKind | undefined;
  private held = 0;
  private readonly queue: Record<AcmeRequestKind, Array<() => void>> = { newOrder: [], authz: [] };

  /** Requests holding the lock now, and their kind (tests, diagnostics). */
  get holders(): { kind: AcmeRequestKind | undefined; count: number } {
    return { kind: this.held > 0 ? this.kind : undefined, count: this.held };
  }

  /** Waiting requests of `kind` now (tests, diagnostics). */
  waiting(kind: AcmeRequestKind): number {
    return this.queue[kind].length;
  }

  /** Resolves with an idempotent release once the caller holds the lock for `kind`; rejects when `signal` aborts first. */
  acquire(kind: AcmeRequestKind, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new Error('aborted'));
    if (this.held === 0 || (this.kind === kind && this.queue[other(kind)].length === 0)) {
      this.kind = kind;
      this.held++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        forget();
        resolve(this.releaser());
      };
      const forget = whenAborted(signal, () => {
        const q = this.queue[kind];
        const i = q.indexOf(grant);
        if (i >= 0) q.splice(i, 1);
        reject(new Error('aborted'));
        // Those of the holding kind may have waited only behind this one.
        this.pump();
      });
      this.queue[kind].push(grant);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
      this.pump();
    };
  }

  /** Grant whoever may go now: when free, the other kind first (turns); while held, the same kind if the other waits for nothing. */
  private pump(): void {
    if (this.held === 0) {
      const next: AcmeRequestKind | undefined =
        this.kind !== undefined && this.queue[other(this.kind)].length > 0
          ? other(this.kind)
          : this.queue.newOrder.length > 0
            ? 'newOrder'
            : this.queue.authz.length > 0
              ? 'authz'
              : undefined;
      if (next === undefined) return;
      this.kind = next;
    } else if (this.queue[other(this.kind!)].length > 0) return;
    const go = this.queue[this.kind!].splice(0);
    this.held += go.length;
    for (const g of go) g();
  }
}

function other(kind: AcmeRequestKind): AcmeRequestKind {
  return kind === 'newOrder' ? 'authz' : 'newOrder';
}

/** One KindLock per CA origin, shared by every box of this process (one per CA: a few bytes each). */
const KIND_LOCKS = new Map<string, KindLock>();

/** The two-kind lock of the CA at `origin` (see {@link KindLock}). */
export function kindLockFor(origin: string): KindLock {
  let l = KIND_LOCKS.get(origin);
  if (!l) {
    l = new KindLock();
    KIND_LOCKS.set(origin, l);
  }
  return l;
}

/** A request of a transport in flight: its host (for messages) and how to end it. */
interface InFlight {
  host: string;
  kill: (e: unknown) => void;
}

/** A response body larger than this is refused (a certificate chain is a few KiB). */
const MAX_BODY_BYTES = 1024 * 1024;

/** OpenSSL/Node codes that mean "the server's certificate is not trusted by the CA list". */
const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'INVALID_CA',
]);

/** True for a TransportError that says the server's chain or name was not accepted. */
export function isTrustFailure(e: unknown): e is TransportError {
  return e instanceof TransportError && e.kind === 'tls' && TLS_TRUST_CODES.has(e.code ?? '');
}

/**
 * A `lookup` for net/tls that asks only the box's name servers (A, then
 * AAAA), never the host's resolver or /etc/hosts. IP literals are returned
 * as they are. Honours `all: true` (Node 20's autoSelectFamily asks for it).
 */
export function createBoxLookup(nameServers: string[], timeoutMs: number): LookupFunction {
  const resolver = new dnsPromises.Resolver({ timeout: timeoutMs, tries: 2 });
  if (nameServers.length > 0) resolver.setServers(nameServers);
  return (hostname, options, callback) => {
    const family = typeof options === 'number' ? options : (options?.family ?? 0);
    const all = typeof options === 'object' && options !== null && options.all === true;
    const answer = (addresses: { address: string; family: number }[]) => {
      if (all)
        (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    };
    const fail = (err: NodeJS.ErrnoException) => callback(err, '', 0);
    // An IP literal needs no name server: checked first, so a box without
    // one still reaches a CA given by address.
    const literal = isIP(hostname);
    if (literal) {
      answer([{ address: hostname, family: literal }]);
      return;
    }
    if (nameServers.length === 0) {
      fail(
        Object.assign(new Error(`no name server configured to resolve ${hostname}`), {
          code: 'ENONAMESERVER',
          hostname,
        }),
      );
      return;
    }
    const want4 = family === 0 || family === 4 || (family as unknown) === 'IPv4';
    const want6 = family === 0 || family === 6 || (family as unknown) === 'IPv6';
    const v4 = want4 ? resolver.resolve4(hostname.toLowerCase()) : undefined;
    void (async () => {
      let firstErr: NodeJS.ErrnoException | undefined;
      const out: { address: string; family: number }[] = [];
      if (want4) {
        try {
          for (const a of await v4!) out.push({ address: a, family: 4 });
        } catch (e) {
          firstErr = e as NodeJS.ErrnoException;
        }
      }
      if (want6 && (out.length === 0 || all)) {
        try {
          for (const a of await resolver.resolve6(hostname.toLowerCase()))
            out.push({ address: a, family: 6 });
        } catch (e) {
          firstErr ??= e as NodeJS.ErrnoException;
        }
      }
      if (out.length > 0) answer(out);
      else
        fail(
          firstErr ?? Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND', hostname }),
        );
    })();
  };
}

/**
 * Whether `hostname` resolves through `lookup` (a box's: createBoxLookup).
 * EMULATION: the start check asks the box's name servers for an A record,
 * and for an AAAA record only when there is no A record (a host's
 * getaddrinfo asks both at once); the answer is the same, with one query
 * fewer per operation for a name with an IPv4 address (the lab's: issue 16,
 * a fleet's start checks).
 */
export function resolves(lookup: LookupFunction, hostname: string): Promise<boolean> {
  return new Promise((resolve) => lookup(hostname, {}, (err) => resolve(!err)));
}

/**
 * Kept-alive connections to ACME servers, shared by every transport of one
 * client context and name-server list (an Http1Pool each). A box used to
 * open one connection per operation, and a lab of a thousand boxes paid a
 * TCP and TLS handshake per certificate and per box (bench/lab-regression's
 * profile); now the boxes of a lab ride on the few connections its gate lets
 * run at once, and a connection closed meanwhile resumes its TLS session
 * (the pool keeps them, per server).
 *
 * Keyed first by the SecureContext, which trusts exactly one CA list
 * (TrustCache shares a context only between identical lists): a connection
 * or session is reused only by a transport that trusts what verified it, so
 * trust never mixes between boxes. Then by the name servers (the Agent's
 * lookup asks only those). A transport given no context builds its own and
 * so shares nothing.
 *
 * EMULATION: one real box has connections of its own; boxes simulated in one
 * process that trust the same CA list and ask the same name servers share
 * their kept-alive connections to the CA (the CA sees fewer TCP and TLS
 * handshakes than from separate devices; every request is still signed by
 * the box's own account key), and the unused Replay-Nonces the CA handed
 * out on them (RFC 8555 §7.2: a nonce is the server's, bound to no account;
 * the CA sees fewer newNonce requests), and the ACME directories fetched
 * on them (see DirectoryCache; the CA sees fewer directory GETs).
 */
const SHARED_AGENTS = new WeakMap<SecureContext, Map<string, SharedAgent>>();

interface SharedAgent {
  agent: Http1Pool;
  lookup: LookupFunction;
  nonces: NoncePool;
  directories: DirectoryCache;
}

/**
 * ACME directories (RFC 8555 §7.1.1) fetched through one shared pool, by
 * directory URL, so that an operation of a box whose pool already holds the
 * directory need not GET it again (see the agent's checkServer: it still
 * asks the server something before starting). An entry is used for at most
 * `maxAgeMs` after its fetch; the agent forgets it when an operation fails,
 * so the next one fetches it again (a CA whose URLs moved is followed).
 */
export class DirectoryCache {
  private readonly byUrl = new Map<string, { directory: Record<string, unknown>; atMs: number }>();

  constructor(
    private readonly maxAgeMs = DIRECTORY_MAX_AGE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Keep `directory`, just fetched from `url`. */
  keep(url: string, directory: Record<string, unknown>): void {
    this.byUrl.set(url, { directory, atMs: this.now() });
  }

  /** The directory of `url` fetched no longer than the age bound ago; undefined otherwise. */
  get(url: string): Record<string, unknown> | undefined {
    const e = this.byUrl.get(url);
    if (!e) return undefined;
    if (this.now() - e.atMs > this.maxAgeMs) {
      this.byUrl.delete(url);
      return undefined;
    }
    return e.directory;
  }

  /** Fetch `url`'s directory again next time. */
  forget(url: string): void {
    this.byUrl.delete(url);
  }

  private readonly fetching = new Map<string, Promise<Record<string, unknown> | undefined>>();

  /**
   * Say that a fetch of `url`'s directory is under way (`fetch` resolves
   * with it, or undefined when it failed), so that boxes starting meanwhile
   * wait for it instead of sending their own (a fleet starts at once).
   */
  track(url: string, fetch: Promise<Record<string, unknown> | undefined>): void {
    this.fetching.set(url, fetch);
    void fetch.finally(() => {
      if (this.fetching.get(url) === fetch) this.fetching.delete(url);
    });
  }

  /** The fetch of `url`'s directory under way, if any (see track). */
  pending(url: string): Promise<Record<string, unknown> | undefined> | undefined {
    return this.fetching.get(url);
  }
}

/** A cached directory is fetched again after this (a CA's directory changes rarely; Pebble's never). */
const DIRECTORY_MAX_AGE_MS = 10 * 60_000;

/**
 * Nonces kept per server: a fleet's start checks run at once and each leaves
 * one nonce (a 1000-box lab issue: a thousand). With 64 kept, most were
 * dropped and their boxes asked newNonce again (0.4-0.6 GET per certificate
 * in a 300-box lab regression); the age bound keeps them fresh.
 */
const NONCE_POOL_MAX = 2048;
/** A nonce older than this is not used (Boulder keeps them valid for longer; Pebble until it restarts). */
const NONCE_MAX_AGE_MS = 30_000;

/**
 * Replay-Nonces an ACME server handed out and nobody has used yet, per
 * server origin, freshest first. A signed request takes one instead of
 * asking newNonce (RFC 8555 §7.2 allows any nonce the server gave); one the
 * server has meanwhile forgotten costs a badNonce answer, whose own nonce
 * the retry uses (§6.5). Bounded in count and age, so a pool never grows
 * and rarely hands out a nonce a real CA has expired.
 */
export class NoncePool {
  /** The default bound on the nonces kept per origin (tests). */
  static readonly MAX = NONCE_POOL_MAX;
  private readonly byOrigin = new Map<string, { nonce: string; atMs: number }[]>();

  constructor(
    private readonly max = NONCE_POOL_MAX,
    private readonly maxAgeMs = NONCE_MAX_AGE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Keep `nonce`, received from `origin`; the oldest is dropped past the bound. */
  keep(origin: string, nonce: string): void {
    let stack = this.byOrigin.get(origin);
    if (!stack) this.byOrigin.set(origin, (stack = []));
    stack.push({ nonce, atMs: this.now() });
    if (stack.length > this.max) stack.shift();
  }

  /** The freshest unused nonce of `origin` no older than the age bound, removed from the pool; undefined when none. */
  take(origin: string): string | undefined {
    const stack = this.byOrigin.get(origin);
    const n = stack?.pop();
    if (!n) return undefined;
    if (this.now() - n.atMs > this.maxAgeMs) {
      // The rest are older still.
      stack!.length = 0;
      return undefined;
    }
    return n.nonce;
  }

  /** Unused nonces held for `origin` (tests). */
  size(origin: string): number {
    return this.byOrigin.get(origin)?.length ?? 0;
  }
}

/** An idle kept-alive connection is closed after this, before a server's own idle timeout can race a reuse. */
const IDLE_CONNECTION_MS = 4_000;

/** Requests in flight are bounded by the cluster's gate, not by the pool. */
function newAgent(context: SecureContext, lookup: LookupFunction): Http1Pool {
  return new Http1Pool(context, lookup, IDLE_CONNECTION_MS);
}

function sharedAgent(context: SecureContext, nameServers: string[], dnsTimeoutMs: number): SharedAgent {
  let byServers = SHARED_AGENTS.get(context);
  if (!byServers) SHARED_AGENTS.set(context, (byServers = new Map<string, SharedAgent>()));
  // A separator no server string contains.
  const key = `${dnsTimeoutMs}\0${nameServers.join('\0')}`;
  let shared = byServers.get(key);
  if (!shared) {
    const lookup = createBoxLookup(nameServers, dnsTimeoutMs);
    shared = {
      agent: newAgent(context, lookup),
      lookup,
      nonces: new NoncePool(),
      directories: new DirectoryCache(),
    };
    byServers.set(key, shared);
  }
  return shared;
}

/** See BoxTransportOptions.dropIdleAtQueue: a queue this long is a fleet at once, not a lab's paced operations (25 under 16 places). */
const DROP_IDLE_AT_QUEUE = 64;

/**
 * One box's HTTPS client for its ACME server. One instance per operation:
 * it captures the CA list and name servers at creation (a CA-list change
 * applies to the next operation) and must be closed.
 *
 * Concurrency: requests may run concurrently; close() ends them all.
 */
export class BoxTransport {
  private readonly agent: Http1Pool;
  /** The agent is this transport's alone (no shared context given): close() destroys it. */
  private readonly ownAgent: boolean;
  private readonly lookup: LookupFunction;
  /** Unused Replay-Nonces: the shared pool's (see SHARED_AGENTS), else this transport's own. */
  readonly nonces: NoncePool;
  /** Directories fetched: the shared pool's (see SHARED_AGENTS), else this transport's own. */
  readonly directories: DirectoryCache;
  private readonly uncut: () => void;
  /** Forgets the one abort listener this transport puts on its signal. */
  private readonly unabort: () => void;
  /** Requests in flight, so that a cut (ConnectFaults) or an abort ends this box's connections and no other's. */
  private readonly inFlight = new Set<InFlight>();
  /** The headers every request sends (RFC 8555 §6.1 User-Agent), built once. */
  private readonly baseHeaders: Record<string, string>;
  /** ... and those of a signed request (RFC 8555 §6.2: application/jose+json). */
  private readonly joseHeaders: Record<string, string>;

  constructor(private readonly o: BoxTransportOptions) {
    if (o.trustContext) {
      // It trusts the CA list only: an explicit (possibly empty) list replaces Node's bundled roots.
      ({
        agent: this.agent,
        lookup: this.lookup,
        nonces: this.nonces,
        directories: this.directories,
      } = sharedAgent(o.trustContext, o.nameServers, o.dnsTimeoutMs));
      this.ownAgent = false;
    } else {
      this.lookup = createBoxLookup(o.nameServers, o.dnsTimeoutMs);
      this.agent = newAgent(createTrustContext(o.caPems), this.lookup);
      this.nonces = new NoncePool();
      this.directories = new DirectoryCache();
      this.ownAgent = true;
    }
    this.uncut = o.faults?.onCut(() => this.cut()) ?? (() => undefined);
    // One listener for the whole operation, not one per request (Node's `signal` request option adds
    // and removes an AbortSignal listener and a stream watcher per request: the client's CPU per
    // certificate, bench/lab-regression).
    const signal = o.signal;
    if (signal && !signal.aborted) {
      const onAbort = () =>
        this.cut(() => new TransportError('aborted', 'the operation was cancelled', 'ABORT_ERR'));
      signal.addEventListener('abort', onAbort, { once: true });
      this.unabort = () => signal.removeEventListener('abort', onAbort);
    } else this.unabort = () => undefined;
    this.baseHeaders = {
      'User-Agent': o.userAgent,
      Accept: 'application/json, application/pem-certificate-chain, */*',
    };
    this.joseHeaders = { ...this.baseHeaders, 'Content-Type': 'application/jose+json' };
  }

  /** The name servers this transport asks, for messages. */
  get nameServers(): string[] {
    return [...this.o.nameServers];
  }

  /**
   * One HTTP exchange, no retry (retries belong to the caller, who knows
   * whether the request carries a nonce). Resolves with any HTTP status;
   * rejects with a TransportError when no response arrived.
   */
  request(
    url: string,
    method: string,
    opts: {
      headers?: Record<string, string>;
      data?: unknown;
      /** A JWS, serialized (jws.ts): the body, sent as application/jose+json (RFC 8555 §6.2). */
      jws?: Buffer | undefined;
      kind?: AcmeRequestKind | undefined;
    } = {},
  ): Promise<AcmeHttpResponse> {
    const u = new URL(url);
    if (u.protocol !== 'https:')
      return Promise.reject(
        new TransportError('protocol', `refusing a non-https ACME URL ${url} (RFC 8555 §6.1)`),
      );
    let body: Buffer | undefined;
    let headers: Record<string, string | number>;
    if (opts.jws) {
      body = opts.jws;
      headers = this.joseHeaders;
    } else {
      body =
        opts.data === undefined || opts.data === null ? undefined : Buffer.from(JSON.stringify(opts.data));
      // The shared header sets are only read (http1.ts): a copy only when the caller adds its own.
      headers = opts.headers ? { ...this.baseHeaders, ...opts.headers } : this.baseHeaders;
      // Content-Length is the HTTP client's (http1.ts).
      if (!body && opts.headers) delete headers['Content-Type'];
    }
    if (this.o.faults?.drop) return this.dropped(u);
    const kind = opts.kind;
    if (kind === undefined) return this.gated(u, method, headers, body, () => undefined);
    // The two-kind lock is taken before the gate: a request waiting for it holds no gate place.
    return kindLockFor(u.origin)
      .acquire(kind, this.o.signal)
      .then(
        (unlock) =>
          this.gated(u, method, headers, body, unlock).catch((e: unknown) => {
            unlock();
            throw e;
          }),
        () => Promise.reject(new TransportError('aborted', 'the operation was cancelled')),
      );
  }

  /** The request through the CA's gate (when there is one); `unlock` runs when it ends. */
  private gated(
    u: URL,
    method: string,
    headers: Record<string, string | number>,
    body: Buffer | undefined,
    unlock: () => void,
  ): Promise<AcmeHttpResponse> {
    const gate = this.o.gates?.for(u.origin);
    if (!gate) return this.exchange(u, method, headers, body, unlock, () => undefined);
    // A shared pool holds no more idle connections than the gate lets run: only a box's own are dropped.
    if (
      this.ownAgent &&
      gate.holders >= gate.limit &&
      gate.waiting >= (this.o.dropIdleAtQueue ?? DROP_IDLE_AT_QUEUE)
    )
      this.closeIdle();
    return gate.acquire(this.o.signal).then(
      (release) =>
        this.exchange(
          u,
          method,
          headers,
          body,
          () => {
            release();
            unlock();
          },
          () => gate.answered(),
        ),
      (e: unknown) =>
        Promise.reject(
          // The gate's breaker: the CA has answered none of the requests in flight for a while (lib/gate.ts).
          e instanceof GateSilentError
            ? new TransportError('timeout', e.message, e.code)
            : new TransportError('aborted', 'the operation was cancelled'),
        ),
    );
  }

  /** A request the path swallows (ConnectFaults.drop): nothing is sent, it fails at its deadline. */
  private dropped(u: URL): Promise<AcmeHttpResponse> {
    this.o.faults!.counters.dropped++;
    const signal = this.o.signal;
    return new Promise((_resolve, reject) => {
      if (signal?.aborted) {
        reject(new TransportError('aborted', 'the operation was cancelled'));
        return;
      }
      const onAbort = () => {
        clearTimeout(deadline);
        reject(new TransportError('aborted', 'the operation was cancelled'));
      };
      const deadline = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        reject(this.timedOut(u));
      }, this.o.requestTimeoutMs);
      deadline.unref();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private timedOut(u: URL): TransportError {
    return new TransportError(
      'timeout',
      `no answer from ${u.host} within ${this.o.requestTimeoutMs} ms`,
      'ETIMEDOUT',
    );
  }

  /** The exchange itself; `release` is called once when it has ended, either way; `answered` when a response arrives. */
  private exchange(
    u: URL,
    method: string,
    headers: Record<string, string | number>,
    body: Buffer | undefined,
    release: () => void,
    answered: () => void,
  ): Promise<AcmeHttpResponse> {
    const done = new Promise<AcmeHttpResponse>((resolve, reject) => {
      if (this.o.signal?.aborted) {
        reject(new TransportError('aborted', 'the operation was cancelled'));
        return;
      }
      const faults = this.o.faults;
      if (faults?.refuse) {
        faults.counters.refused++;
        reject(new TransportError('connect', `cannot connect to ${u.host} (ECONNRESET)`, 'ECONNRESET'));
        return;
      }
      const req = this.agent.request({
        hostname: u.hostname.replace(/^\[|\]$/g, ''),
        port: Number(u.port || 443),
        hostHeader: u.host,
        method: method.toUpperCase(),
        path: u.pathname + u.search,
        headers,
        ...(body ? { body } : {}),
        maxBodyBytes: MAX_BODY_BYTES,
        tooLarge: () =>
          new TransportError('protocol', `response from ${u.host} larger than ${MAX_BODY_BYTES} bytes`),
        onHead: () => {
          if (!faults?.drop) answered();
        },
      });
      // Ends the exchange once: by its answer, or by `kill` (deadline, cut, abort, a failed connection).
      let over = false;
      const kill = (e: unknown) => {
        if (over) return;
        over = true;
        clearTimeout(deadline);
        this.inFlight.delete(handle);
        // The connection goes too, unless the answer was read whole (it is back in the pool then).
        req.destroy(e as Error);
        reject(toTransportError(e, u, this.o.nameServers));
      };
      const handle: InFlight = { host: u.hostname, kill };
      this.inFlight.add(handle);
      // A whole-request deadline, from connect to the last byte.
      const deadline = setTimeout(() => kill(this.timedOut(u)), this.o.requestTimeoutMs);
      deadline.unref();
      const deliver = (res: Http1Response) => {
        if (over) return;
        over = true;
        clearTimeout(deadline);
        this.inFlight.delete(handle);
        resolve({
          status: res.status,
          headers: res.headers,
          data: parseBody(res.body.toString('utf8'), res.headers['content-type']),
        });
      };
      req.done.then((res) => {
        if (faults?.drop) {
          // Lost on the way: never delivered; the deadline ends the request as a timeout.
          faults.counters.dropped++;
          return;
        }
        const hold = faults?.delayMs ?? 0;
        if (hold > 0) {
          // Held back; the whole-request deadline keeps running.
          faults!.counters.delayed++;
          setTimeout(() => deliver(res), hold).unref();
        } else deliver(res);
      }, kill);
    });
    done.then(release, release);
    return done;
  }

  /** End this transport: its requests still in flight are cut; a private agent's idle connections close too. */
  close(): void {
    this.uncut();
    this.unabort();
    this.cut();
    if (this.ownAgent) this.agent.destroy();
  }

  /** Ends this transport's requests in flight with their connections, as a reset path does (or with `why`). */
  private cut(
    why: (host: string) => TransportError = (host) =>
      new TransportError('connect', `cannot connect to ${host} (ECONNRESET)`, 'ECONNRESET'),
  ): void {
    for (const r of [...this.inFlight]) r.kill(why(r.host));
    this.inFlight.clear();
  }

  /** Close the kept-alive connections no request is using (the next request connects again, resuming TLS). */
  private closeIdle(): void {
    this.agent.closeIdle();
  }

  /** The lookup of this box (tests, diagnostics). */
  get boxLookup(): LookupFunction {
    return this.lookup;
  }
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (text.length === 0) return '';
  if (contentType && /json/i.test(contentType)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

/** Map a Node error to a one-line TransportError for the status. */
function toTransportError(e: unknown, u: URL, nameServers: string[] = []): TransportError {
  if (e instanceof TransportError) return e;
  const err = e as NodeJS.ErrnoException & { reason?: string };
  const code = err.code ?? '';
  const host = u.host;
  if (err.name === 'AbortError' || code === 'ABORT_ERR')
    return new TransportError('aborted', 'the operation was cancelled', code);
  if (
    code === 'ENOTFOUND' ||
    code === 'ENODATA' ||
    code === 'ESERVFAIL' ||
    code === 'EREFUSED' ||
    code === 'ENONAMESERVER' ||
    (code === 'ECONNREFUSED' && err.syscall?.startsWith('query'))
  ) {
    const via = nameServers.length ? ` through the box's name server(s) ${nameServers.join(', ')}` : '';
    return new TransportError('dns', `cannot resolve ${u.hostname}${via} (${code})`, code);
  }
  if (code === 'ETIMEOUT' && err.syscall?.startsWith('query')) {
    return new TransportError(
      'dns',
      `no answer from the box's name server(s) ${nameServers.join(', ')} for ${u.hostname} (${code})`,
      code,
    );
  }
  if (TLS_TRUST_CODES.has(code)) {
    return new TransportError('tls', `TLS to ${host}: ${err.reason ?? err.message} (${code})`, code);
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /SSL|TLS/.test(err.message)) {
    return new TransportError('tls', `TLS to ${host} failed: ${err.message} (${code || 'tls'})`, code);
  }
  if (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'EHOSTUNREACH' ||
    code === 'ENETUNREACH' ||
    code === 'EPIPE'
  ) {
    return new TransportError('connect', `cannot connect to ${host} (${code})`, code);
  }
  if (code === 'ETIMEDOUT') return new TransportError('timeout', `no answer from ${host} (${code})`, code);
  return new TransportError(
    'connect',
    `request to ${host} failed: ${err.message}${code ? ` (${code})` : ''}`,
    code,
  );
}

/** What the server presented, for the refusal message. */
export interface ServerChainReport {
  /** Why Node/OpenSSL refused it with the box's CA list (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE), or null if it is trusted. */
  authorizationError: string | null;
  /** Subjects and issuers of the presented certificates, leaf first (CN, or the whole subject). */
  chain: { subject: string; issuer: string }[];
}

/**
 * Connect once to `url`'s host, complete the TLS handshake with the box's
 * CA list as `ca`, read what the server presents and close at once, without
 * sending any application data. Diagnostic only (see the file comment):
 * never use its socket for a request.
 */
export function inspectServerChain(
  url: string,
  caPems: string[],
  lookup: LookupFunction,
  timeoutMs: number,
): Promise<ServerChainReport> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host,
      port: Number(u.port || 443),
      servername: isIP(host) ? undefined : host,
      ca: caPems,
      lookup,
      rejectUnauthorized: false,
      timeout: timeoutMs,
    });
    socket.once('timeout', () => socket.destroy(new Error('timeout')));
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      const chain: { subject: string; issuer: string }[] = [];
      let cur: DetailedPeerCertificate | PeerCertificate | undefined = socket.getPeerCertificate(true);
      const seen = new Set<string>();
      while (cur && cur.fingerprint256 && !seen.has(cur.fingerprint256)) {
        seen.add(cur.fingerprint256);
        chain.push({ subject: nameOf(cur.subject), issuer: nameOf(cur.issuer) });
        const next: DetailedPeerCertificate | undefined = (cur as DetailedPeerCertificate).issuerCertificate;
        cur = next;
      }
      const authErr = socket.authorized ? null : String(socket.authorizationError ?? 'not trusted');
      socket.destroy();
      resolve({ authorizationError: authErr, chain });
    });
  });
}

function nameOf(n: PeerCertificate['subject'] | undefined): string {
  if (!n) return '?';
  const cn = (n as unknown as Record<string, string | string[]>)['CN'];
  if (cn) return Array.isArray(cn) ? cn.join('+') : cn;
  return Object.entries(n)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
}

/** Seconds or HTTP-date of a Retry-After header (RFC 9110 §10.2.3), in ms from `nowMs`; undefined when absent or bad. */
export function retryAfterMs(header: string | undefined, nowMs: number): number | undefined {
  if (!header) return undefined;
  const s = header.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
