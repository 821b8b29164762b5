/**
 * AcmeSession's request rules against a scripted fake ACME server (Pebble
 * cannot answer 429/503): retries of 429/5xx carry a fresh nonce
 * (node-acme-client#103), Retry-After is honoured (RFC 8555 §6.6) or fails
 * fast when too long, badNonce is retried with the nonce of the error
 * response (RFC 8555 §6.5), unsigned GETs are retried as they are, and an
 * order is finalized without a poll for "ready" unless the CA asks for one.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { SecureContext } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, generatePrivateKey } from '../pki/keys.js';
import { createListenerCertificate } from './pebble-launcher.js';
import { orderIdentifiers } from '../device/acme-identifiers.js';
import {
  AcmeSession,
  csrRequest,
  orderRequest,
  pickChallenge,
  type ChallengeToAnswer,
  type SessionTuning,
} from './session.js';
import { BoxTransport, createTrustContext } from './transport.js';

/** The openssl CLI on `input` (a real peer's parse of what the box sends). */
function openssl(args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = execFile('openssl', args, (err, stdout, stderr) =>
      err ? reject(new Error(`openssl ${args[0]}: ${stderr || err.message}`)) : resolve(stdout + stderr),
    );
    p.stdin!.end(input);
  });
}

const dir = mkdtempSync(join(tmpdir(), 'gvos-fake-acme-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const listener = await createListenerCertificate(dir, ['127.0.0.1']);
const certPem = readFileSync(listener.certPath, 'utf8');

type Answer = { status: number; headers?: Record<string, string>; body?: unknown };

/** A fake ACME server: valid nonces are single-use; scripted answers per path, then 200. */
class FakeAcme {
  server: Server;
  base = '';
  private n = 0;
  private readonly valid = new Set<string>();
  readonly posts: {
    path: string;
    nonce: string;
    at: number;
    payload: string;
    kid?: string;
    jws: { protected: string; payload: string; signature: string };
  }[] = [];
  readonly gets: { path: string; at: number }[] = [];
  readonly script = new Map<string, Answer[]>();

  constructor() {
    this.server = createServer({ cert: certPem, key: readFileSync(listener.keyPath) }, (req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () =>
        this.handle(req.method ?? 'GET', req.url ?? '/', body, (a) => {
          res.writeHead(a.status, {
            'Replay-Nonce': this.fresh(),
            'Content-Type': 'application/json',
            ...(a.headers ?? {}),
          });
          res.end(a.body === undefined ? '' : JSON.stringify(a.body));
        }),
      );
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const a = this.server.address();
    this.base = `https://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  }

  fresh(): string {
    const v = `nonce-${++this.n}`;
    this.valid.add(v);
    return v;
  }

  private handle(method: string, path: string, body: string, send: (a: Answer) => void): void {
    const scripted = this.script.get(path)?.shift();
    if (method === 'GET' || method === 'HEAD') {
      this.gets.push({ path, at: Date.now() });
      if (scripted) return send(scripted);
      if (path === '/dir') {
        return send({
          status: 200,
          body: {
            newNonce: `${this.base}/nonce`,
            newAccount: `${this.base}/acct`,
            newOrder: `${this.base}/order`,
            revokeCert: `${this.base}/revoke`,
          },
        });
      }
      return send({ status: 200 });
    }
    const jws = JSON.parse(body) as { protected: string; payload: string; signature: string };
    const header = JSON.parse(Buffer.from(jws.protected, 'base64url').toString()) as {
      nonce: string;
      kid?: string;
    };
    const payload = Buffer.from(jws.payload, 'base64url').toString();
    this.posts.push({
      path,
      nonce: header.nonce,
      at: Date.now(),
      payload,
      ...(header.kid ? { kid: header.kid } : {}),
      jws,
    });
    // RFC 8555 §6.5: a nonce is good once.
    if (!this.valid.delete(header.nonce)) {
      return send({
        status: 400,
        headers: { 'Content-Type': 'application/problem+json' },
        body: { type: 'urn:ietf:params:acme:error:badNonce', detail: 'stale nonce' },
      });
    }
    if (scripted) return send(scripted);
    if (path === '/acct')
      return send({ status: 201, headers: { Location: `${this.base}/acct/1` }, body: { status: 'valid' } });
    return send({ status: 200 });
  }
}

const tuning: SessionTuning = {
  pollMinMs: 10,
  pollMaxMs: 50,
  pollAttempts: 5,
  serverErrorRetries: 3,
  serverErrorDelayMs: 50,
  maxRetryAfterMs: 5_000,
  badNonceRetries: 5,
};

async function open(
  fake: FakeAcme,
  over: Partial<SessionTuning> = {},
  o: {
    accountUrl?: string;
    keyPem?: string;
    trustContext?: SecureContext;
    onAccountUrl?: (url: string) => void;
  } = {},
) {
  const transport = new BoxTransport({
    caPems: [listener.caPem],
    ...(o.trustContext ? { trustContext: o.trustContext } : {}),
    nameServers: ['127.0.0.1'],
    requestTimeoutMs: 5000,
    dnsTimeoutMs: 500,
    userAgent: 'test',
  });
  const { session } = await AcmeSession.open({
    directoryUrl: `${fake.base}/dir`,
    account: {
      keyPem: o.keyPem ?? (await generateKeyPair('prime256v1')).privateKeyPem,
      url: o.accountUrl ?? null,
    },
    transport,
    tuning: { ...tuning, ...over },
    ...(o.onAccountUrl ? { onAccountUrl: o.onAccountUrl } : {}),
  });
  return { session, transport };
}

/** A FakeAcme listening for this test, closed at its end. */
async function listeningFake(t: { teardown(fn: () => unknown): void }): Promise<FakeAcme> {
  const fake = new FakeAcme();
  await fake.listen();
  t.teardown(() => fake.server.close());
  return fake;
}

const accountGone = {
  status: 400,
  headers: { 'Content-Type': 'application/problem+json' },
  body: { type: 'urn:ietf:params:acme:error:accountDoesNotExist', detail: 'unknown account' },
};

t.test('a stored account URL: no newAccount, every request signed with that URL (kid)', async (t) => {
  const fake = await listeningFake(t);
  const stored = `${fake.base}/acct/7`;
  const { session, transport } = await open(fake, {}, { accountUrl: stored });
  t.teardown(() => transport.close());
  t.same(fake.posts, [], 'opening sends nothing signed');
  await session.revoke(certPem, 4);
  t.same(
    fake.posts.map((p) => [p.path, p.kid]),
    [['/revoke', stored]],
    'the revocation alone, under the stored URL',
  );
  t.equal(session.accountUrl, stored);
});

t.test('every JWS verifies with the account key: ES256 (P-256) and RS256 (RSA)', async (t) => {
  for (const alg of ['prime256v1', 'rsa-2048'] as const) {
    const fake = await listeningFake(t);
    const keyPem = (await generateKeyPair(alg)).privateKeyPem;
    const { session, transport } = await open(fake, {}, { keyPem });
    t.teardown(() => transport.close());
    await session.revoke(certPem, 4);
    t.equal(fake.posts.length, 2, `${alg}: newAccount and the revocation`);
    for (const p of fake.posts) {
      const header = JSON.parse(Buffer.from(p.jws.protected, 'base64url').toString()) as { alg: string };
      t.equal(header.alg, alg === 'rsa-2048' ? 'RS256' : 'ES256', `${alg}: ${p.path} alg`);
      t.ok(
        verify(
          'sha256',
          Buffer.from(`${p.jws.protected}.${p.jws.payload}`),
          { key: createPublicKey(keyPem), dsaEncoding: 'ieee-p1363' },
          Buffer.from(p.jws.signature, 'base64url'),
        ),
        `${alg}: ${p.path} signature verifies (RFC 7515, RFC 7518 §3.4 raw r||s)`,
      );
    }
  }
});

t.test(
  'the CA has forgotten the stored account: registered again once, the same request sent again under the new URL',
  async (t) => {
    const fake = await listeningFake(t);
    const stored = `${fake.base}/acct/7`;
    const told: string[] = [];
    const { session, transport } = await open(
      fake,
      {},
      { accountUrl: stored, onAccountUrl: (u) => told.push(u) },
    );
    t.teardown(() => transport.close());
    fake.script.set('/revoke', [accountGone]);
    await session.revoke(certPem, 4);
    t.same(
      fake.posts.map((p) => [p.path, p.kid ?? 'jwk']),
      [
        ['/revoke', stored],
        ['/acct', 'jwk'],
        ['/revoke', `${fake.base}/acct/1`],
      ],
      'newAccount with the key (RFC 8555 §7.3), then the revocation again with the new URL',
    );
    t.same(told, [`${fake.base}/acct/1`], 'the new URL is handed to the caller to store');
    t.equal(session.accountUrl, `${fake.base}/acct/1`);

    // Not a loop: a CA that refuses the new account too fails the request after one registration.
    fake.posts.length = 0;
    const again = await open(fake, {}, { accountUrl: stored });
    t.teardown(() => again.transport.close());
    fake.script.set('/revoke', [accountGone, accountGone, accountGone]);
    await t.rejects(again.session.revoke(certPem, 4), /unknown account/);
    t.same(
      fake.posts.map((p) => p.path),
      ['/revoke', '/acct', '/revoke'],
      'registered once, no more',
    );
  },
);

t.test(
  'sessions on one shared pool: a Replay-Nonce left by one is used by the next, no newNonce',
  async (t) => {
    const fake = await listeningFake(t);
    const trustContext = createTrustContext([listener.caPem]);
    const first = await open(fake, {}, { trustContext });
    t.teardown(() => first.transport.close());
    await first.session.revoke(certPem, 4);
    first.transport.close();
    const origin = new URL(fake.base).origin;
    t.ok(first.transport.nonces.size(origin) >= 1, "the last answer's nonce is kept after the session");
    const asked = fake.gets.filter((g) => g.path === '/nonce').length;
    const second = await open(fake, {}, { trustContext, accountUrl: `${fake.base}/acct/1` });
    t.teardown(() => second.transport.close());
    t.equal(second.transport.nonces, first.transport.nonces, 'one pool for one trust context');
    await second.session.revoke(certPem, 4);
    t.equal(fake.gets.filter((g) => g.path === '/nonce').length, asked, 'no newNonce in the second session');
    t.equal(fake.posts.length, 3, 'newAccount and two revocations');
    t.equal(new Set(fake.posts.map((p) => p.nonce)).size, 3, 'each nonce used once (RFC 8555 §6.5)');
  },
);

t.test(
  '503 with Retry-After, then 429, then badNonce, then success: every retry with a fresh, unused nonce',
  async (t) => {
    const fake = new FakeAcme();
    await fake.listen();
    t.teardown(() => fake.server.close());
    const { session, transport } = await open(fake);
    t.teardown(() => transport.close());
    fake.script.set('/revoke', [
      {
        status: 503,
        headers: { 'Retry-After': '1' },
        body: { type: 'urn:ietf:params:acme:error:serverInternal' },
      },
      { status: 429, body: { type: 'urn:ietf:params:acme:error:rateLimited' } },
      {
        status: 400,
        headers: { 'Replay-Nonce': 'nonce-from-badNonce' },
        body: { type: 'urn:ietf:params:acme:error:badNonce' },
      },
    ]);
    // The scripted badNonce carries its own nonce; make it one the server will accept.
    (fake as unknown as { valid: Set<string> }).valid.add('nonce-from-badNonce');
    await session.revoke(certPem, 4);
    const revokes = fake.posts.filter((p) => p.path === '/revoke');
    t.equal(revokes.length, 4, 'three retries');
    t.equal(
      new Set(revokes.map((p) => p.nonce)).size,
      4,
      'never the same nonce twice (node-acme-client#103)',
    );
    t.ok(revokes[1]!.at - revokes[0]!.at >= 950, 'Retry-After: 1 was honoured');
    t.ok(revokes[2]!.at - revokes[1]!.at >= 90, 'without Retry-After: the doubled default delay');
    t.equal(
      revokes[3]!.nonce,
      'nonce-from-badNonce',
      "badNonce: retried with the error response's nonce (RFC 8555 §6.5)",
    );
    const heads = fake.gets.filter((g) => g.path === '/nonce').length;
    t.ok(heads <= 1, `nonces come from earlier responses, not a newNonce request each time (${heads} HEAD)`);
  },
);

t.test('a Retry-After longer than the cap fails at once with the wait in the message', async (t) => {
  const fake = new FakeAcme();
  await fake.listen();
  t.teardown(() => fake.server.close());
  const { session, transport } = await open(fake, { maxRetryAfterMs: 1000 });
  t.teardown(() => transport.close());
  fake.script.set('/revoke', [
    {
      status: 429,
      headers: { 'Retry-After': '3600' },
      body: { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many revocations' },
    },
  ]);
  const t0 = Date.now();
  await t.rejects(session.revoke(certPem, 4), {
    message: /asks to retry after 3600 s \(HTTP 429: too many revocations\)/,
  });
  t.ok(Date.now() - t0 < 1000, 'no waiting');
});

t.test('5xx on every attempt: gives up after the configured retries with the server problem', async (t) => {
  const fake = new FakeAcme();
  await fake.listen();
  t.teardown(() => fake.server.close());
  const { session, transport } = await open(fake, { serverErrorRetries: 2, serverErrorDelayMs: 10 });
  t.teardown(() => transport.close());
  const down = {
    status: 503,
    body: { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'the CA is down' },
  };
  fake.script.set('/revoke', [down, down, down, down]);
  await t.rejects(session.revoke(certPem, 4), { message: /the CA is down/ });
  t.equal(fake.posts.filter((p) => p.path === '/revoke').length, 3, 'one try and two retries');
});

t.test('an unsigned GET answered 503 is retried as it is', async (t) => {
  const fake = new FakeAcme();
  await fake.listen();
  t.teardown(() => fake.server.close());
  fake.script.set('/dir', [{ status: 503 }]);
  const { transport } = await open(fake);
  t.teardown(() => transport.close());
  t.equal(fake.gets.filter((g) => g.path === '/dir').length, 2, 'the directory was fetched twice');
});

t.test(
  'finalize at once when every authorization is valid; poll for "ready" only after orderNotReady',
  async (t) => {
    const key = (await import('node:crypto')).generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
    }).privateKey;
    const responder = {
      types: () => ['http-01' as const],
      present: async () => undefined,
      remove: () => undefined,
    };
    for (const notReadyFirst of [false, true]) {
      const fake = new FakeAcme();
      await fake.listen();
      t.teardown(() => fake.server.close());
      const b = fake.base;
      const order = { status: 'pending', authorizations: [`${b}/authz/1`], finalize: `${b}/finalize/1` };
      fake.script.set('/order', [{ status: 201, headers: { Location: `${b}/order/1` }, body: order }]);
      // Already valid (authz reuse): nothing to answer, so the order is ready (RFC 8555 §7.1.6).
      fake.script.set('/authz/1', [
        {
          status: 200,
          body: { status: 'valid', identifier: { type: 'dns', value: 'a.test' }, challenges: [] },
        },
      ]);
      const finalized = { status: 200, body: { ...order, status: 'valid', certificate: `${b}/cert/1` } };
      fake.script.set(
        '/finalize/1',
        notReadyFirst
          ? [
              {
                status: 403,
                headers: { 'Content-Type': 'application/problem+json' },
                body: { type: 'urn:ietf:params:acme:error:orderNotReady', detail: 'not ready yet' },
              },
              finalized,
            ]
          : [finalized],
      );
      fake.script.set('/order/1', [{ status: 200, body: { ...order, status: 'ready' } }]);
      fake.script.set('/cert/1', [{ status: 200, body: certPem }]);
      const { session, transport } = await open(fake);
      t.teardown(() => transport.close());
      t.equal(
        await session.obtain([{ type: 'dns', value: 'a.test' }], key, responder),
        certPem,
        'the chain as the CA sent it',
      );
      t.same(
        fake.posts.map((p) => p.path).filter((p) => p !== '/acct'),
        notReadyFirst
          ? ['/order', '/authz/1', '/finalize/1', '/order/1', '/finalize/1', '/cert/1']
          : ['/order', '/authz/1', '/finalize/1', '/cert/1'],
        notReadyFirst ? 'orderNotReady: waited for "ready", finalized again' : 'no poll before finalize',
      );
    }
  },
);

t.test(
  'one order for a DNS name and an IP address: both identifiers, each authorization answered, a CSR with both SANs',
  async (t) => {
    const key = (await generatePrivateKey('prime256v1')).key;
    const answered: string[] = [];
    const responder = {
      types: () => ['http-01' as const, 'tls-alpn-01' as const],
      present: async (c: ChallengeToAnswer) =>
        void answered.push(`${c.type} ${c.identifier.type}:${c.identifier.value}`),
      remove: () => undefined,
    };
    const fake = new FakeAcme();
    await fake.listen();
    t.teardown(() => fake.server.close());
    const b = fake.base;
    const authzs = [`${b}/authz/1`, `${b}/authz/2`];
    const order = { status: 'pending', authorizations: authzs, finalize: `${b}/finalize/1` };
    fake.script.set('/order', [{ status: 201, headers: { Location: `${b}/order/1` }, body: order }]);
    const challenge = (n: number, type: string) => ({
      type,
      url: `${b}/chall/${n}-${type}`,
      token: `token-${n}-${type}`,
      status: 'pending',
    });
    // The DNS name is offered all three; the address (RFC 8738 §7) http-01 and tls-alpn-01 only, as Pebble does.
    const pending = (n: number, identifier: object, types: string[]) => ({
      status: 200,
      body: { status: 'pending', identifier, challenges: types.map((ty) => challenge(n, ty)) },
    });
    fake.script.set('/authz/1', [
      pending(1, { type: 'dns', value: 'box1.lab.test' }, ['dns-01', 'tls-alpn-01', 'http-01']),
    ]);
    fake.script.set('/authz/2', [pending(2, { type: 'ip', value: '127.0.0.9' }, ['tls-alpn-01', 'http-01'])]);
    for (const n of [1, 2])
      fake.script.set(`/chall/${n}-http-01`, [
        { status: 200, body: challenge(n, 'http-01') },
        { status: 200, body: { ...challenge(n, 'http-01'), status: 'valid' } },
      ]);
    fake.script.set('/finalize/1', [
      { status: 200, body: { ...order, status: 'valid', certificate: `${b}/cert/1` } },
    ]);
    fake.script.set('/cert/1', [{ status: 200, body: certPem }]);
    const { session, transport } = await open(fake);
    t.teardown(() => transport.close());

    const ids = orderIdentifiers('box1.lab.test', '127.0.0.9');
    t.equal(await session.obtain(ids, key, responder), certPem);
    const newOrder = JSON.parse(fake.posts.find((p) => p.path === '/order')!.payload) as unknown;
    t.same(
      newOrder,
      {
        identifiers: [
          { type: 'dns', value: 'box1.lab.test' },
          { type: 'ip', value: '127.0.0.9' },
        ],
      },
      'newOrder names both identifiers, the address as type ip (RFC 8738 §3)',
    );
    t.same(answered, ['http-01 dns:box1.lab.test', 'http-01 ip:127.0.0.9'], 'each authorization answered');
    // The CSR as the CA reads it: openssl's own parse of the finalize payload.
    const { csr } = JSON.parse(fake.posts.find((p) => p.path === '/finalize/1')!.payload) as { csr: string };
    const der = Buffer.from(csr, 'base64url').toString('base64');
    const csrPem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
    const text = await openssl(['req', '-noout', '-text', '-verify'], csrPem);
    t.match(text, /Subject: CN ?= ?box1\.lab\.test/, 'the DNS name is the CN');
    t.match(text, /DNS:box1\.lab\.test, IP Address:127\.0\.0\.9/, 'a dNSName and an iPAddress SAN');
  },
);

t.test(
  "revalidate (the lab's challenge-wrong): a reused authorization is deactivated and the order placed again, at most 3 times",
  async (t) => {
    const key = (await generatePrivateKey('prime256v1')).key;
    const id = { type: 'ip' as const, value: '127.0.0.9' };
    /** A fake whose first `reusedOrders` orders come back with a valid (reused) authorization, then a pending one. */
    const scripted = async (reusedOrders: number) => {
      const fake = await listeningFake(t);
      const b = fake.base;
      const orders: Answer[] = [];
      for (let n = 1; n <= reusedOrders + 1; n++) {
        const order = {
          status: 'pending',
          authorizations: [`${b}/authz/${n}`],
          finalize: `${b}/finalize/${n}`,
        };
        orders.push({ status: 201, headers: { Location: `${b}/order/${n}` }, body: order });
        const challenge = { type: 'http-01', url: `${b}/chall/${n}`, token: `token-${n}`, status: 'pending' };
        fake.script.set(`/authz/${n}`, [
          n <= reusedOrders
            ? { status: 200, body: { status: 'valid', identifier: id, challenges: [] } }
            : { status: 200, body: { status: 'pending', identifier: id, challenges: [challenge] } },
        ]);
        fake.script.set(`/chall/${n}`, [
          { status: 200, body: challenge },
          { status: 200, body: { ...challenge, status: 'valid' } },
        ]);
        fake.script.set(`/finalize/${n}`, [
          { status: 200, body: { ...order, status: 'valid', certificate: `${b}/cert/1` } },
        ]);
      }
      fake.script.set('/order', orders);
      fake.script.set('/cert/1', [{ status: 200, body: certPem }]);
      const { session, transport } = await open(fake);
      t.teardown(() => transport.close());
      return { fake, session };
    };
    const answered: string[] = [];
    const responder = (revalidate: boolean) => ({
      types: () => ['http-01' as const],
      present: async (c: ChallengeToAnswer) => void answered.push(c.token),
      remove: () => undefined,
      revalidate: () => revalidate,
    });
    /** Each signed request after the account's, as path, and "deactivated" for a deactivation. */
    const paths = (fake: FakeAcme) =>
      fake.posts
        .filter((p) => p.path !== '/acct')
        .map((p) => p.path + (p.payload.includes('deactivated') ? ' deactivated' : ''));

    const plain = await scripted(1);
    t.equal(await plain.session.obtain([id], key, responder(false)), certPem);
    t.same(
      paths(plain.fake),
      ['/order', '/authz/1', '/finalize/1', '/cert/1'],
      'off: the reused authorization is taken, no challenge',
    );
    t.same(answered, []);

    const again = await scripted(2);
    t.equal(await again.session.obtain([id], key, responder(true)), certPem);
    t.same(
      paths(again.fake),
      [
        '/order',
        '/authz/1',
        '/authz/1 deactivated',
        '/order',
        '/authz/2',
        '/authz/2 deactivated',
        '/order',
        '/authz/3',
        '/chall/3',
        '/chall/3',
        '/finalize/3',
        '/cert/1',
      ],
      'on: each reused authorization deactivated (RFC 8555 §7.5.2), ordered again until a challenge is asked',
    );
    t.same(
      JSON.parse(again.fake.posts.find((p) => p.payload.includes('deactivated'))!.payload),
      { status: 'deactivated' },
      'the deactivation payload',
    );
    t.same(answered, ['token-3'], 'the challenge of the third order answered');

    const stuck = await scripted(4);
    await t.rejects(
      stuck.session.obtain([id], key, responder(true)),
      { message: 'the CA reused a valid authorization for 127.0.0.9 4 times' },
      'a CA that keeps reusing: fails after three new orders, never loops',
    );
    t.equal(paths(stuck.fake).filter((p) => p === '/order').length, 4, 'four orders');
  },
);

t.test('building an order and its CSR (pure)', async (t) => {
  const key = (await generatePrivateKey('prime256v1')).key;
  t.same(orderRequest(orderIdentifiers('box1.lab.test')), {
    identifiers: [{ type: 'dns', value: 'box1.lab.test' }],
  });
  t.same(orderRequest(orderIdentifiers('127.0.0.9')), { identifiers: [{ type: 'ip', value: '127.0.0.9' }] });
  t.same(orderIdentifiers('box1.lab.test', 'box1.lab.test'), [{ type: 'dns', value: 'box1.lab.test' }]);
  t.throws(() => orderIdentifiers('box1.lab.test', 'box2.lab.test'), /not an IP address/);
  t.throws(
    () =>
      orderRequest([
        { type: 'dns', value: 'a.test' },
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
      ]),
    /1 to 2 identifiers, not 3/,
  );
  t.throws(() => orderRequest([]), /not 0/);
  const both = csrRequest(orderIdentifiers('box1.lab.test', '::1'), key);
  t.equal(both.commonName, 'box1.lab.test');
  t.same(both.altNames, ['box1.lab.test', '::1']);
  const ipOnly = csrRequest(orderIdentifiers('127.0.0.9'), key);
  t.equal(ipOnly.commonName, undefined, 'an address alone has no CN (RFC 8738 §3)');
  t.same(ipOnly.altNames, ['127.0.0.9']);
});

t.test('the challenge for an address is never dns-01 (RFC 8738 §7)', async (t) => {
  const ip = { type: 'ip' as const, value: '127.0.0.9' };
  const dns = { type: 'dns' as const, value: 'box1.lab.test' };
  t.equal(pickChallenge(ip, ['dns-01', 'http-01'], ['http-01', 'tls-alpn-01']), 'http-01');
  t.equal(pickChallenge(ip, ['tls-alpn-01'], ['http-01', 'tls-alpn-01']), 'tls-alpn-01');
  t.throws(() => pickChallenge(ip, ['dns-01'], ['http-01', 'tls-alpn-01']), {
    message: /offers dns-01 for 127\.0\.0\.9.*dns-01 cannot validate an IP address, RFC 8738 §7/,
  });
  t.equal(
    pickChallenge(dns, ['tls-alpn-01', 'http-01'], ['http-01', 'tls-alpn-01']),
    'http-01',
    "the box's preference",
  );
  t.throws(() => pickChallenge(dns, ['dns-01'], ['http-01']), { message: /can answer only http-01$/ });
});

t.test(
  'status polls: "processing" is polled until valid, "invalid" ends at once with the problem, other answers keep their JSON',
  async (t) => {
    const key = (await generatePrivateKey('prime256v1')).key;
    const responder = {
      types: () => ['http-01' as const],
      present: async () => undefined,
      remove: () => undefined,
    };
    const fake = await listeningFake(t);
    const b = fake.base;
    const order = { status: 'pending', authorizations: [`${b}/authz/1`], finalize: `${b}/finalize/1` };
    const challenge = { type: 'http-01', url: `${b}/chall/1`, token: 'tok-1', status: 'pending' };
    const authz = {
      status: 200,
      body: { status: 'pending', identifier: { type: 'dns', value: 'a.test' }, challenges: [challenge] },
    };
    fake.script.set('/order', [
      { status: 201, headers: { Location: `${b}/order/1` }, body: order },
      { status: 201, headers: { Location: `${b}/order/2` }, body: order },
    ]);
    fake.script.set('/authz/1', [authz, authz]);
    fake.script.set('/chall/1', [
      { status: 200, body: challenge },
      { status: 200, body: { ...challenge, status: 'valid' } },
      { status: 200, body: challenge },
      {
        status: 200,
        body: {
          ...challenge,
          status: 'invalid',
          error: { type: 'urn:ietf:params:acme:error:connection', detail: 'connection refused' },
        },
      },
    ]);
    fake.script.set('/finalize/1', [{ status: 200, body: { ...order, status: 'processing' } }]);
    fake.script.set('/order/1', [
      { status: 200, body: { ...order, status: 'processing' } },
      { status: 200, body: { ...order, status: 'valid', certificate: `${b}/cert/1` } },
    ]);
    fake.script.set('/cert/1', [{ status: 200, body: certPem }]);
    const { session, transport } = await open(fake);
    t.teardown(() => transport.close());
    const ids = [{ type: 'dns' as const, value: 'a.test' }];
    t.equal(await session.obtain(ids, key, responder), certPem);
    t.same(
      fake.posts.map((p) => p.path).filter((p) => p !== '/acct'),
      ['/order', '/authz/1', '/chall/1', '/chall/1', '/finalize/1', '/order/1', '/order/1', '/cert/1'],
      'challenge answered and polled once; the order polled until valid, then the download',
    );
    t.equal(
      fake.posts.find((p) => p.path === '/chall/1')!.payload,
      '{}',
      'the challenge answer is {} (RFC 8555 §7.5.1)',
    );
    t.ok(
      fake.posts
        .filter((p) => p.path !== '/chall/1' || p.payload !== '{}')
        .every(
          (p) => p.payload === '' || p.path === '/order' || p.path === '/finalize/1' || p.path === '/acct',
        ),
      'polls and the download are POST-as-GET (empty payload, RFC 8555 §6.3)',
    );

    fake.posts.length = 0;
    await t.rejects(session.obtain(ids, key, responder), {
      message: 'http-01 challenge for a.test failed: connection refused',
    });
    t.same(
      fake.posts.map((p) => p.path),
      ['/order', '/authz/1', '/chall/1', '/chall/1'],
      'an invalid challenge is not polled again',
    );

    fake.script.set('/revoke', [
      { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'no such thing' },
    ]);
    await t.rejects(
      session.revoke(certPem, 4),
      // The fake sends the text as a JSON string; acme-client's wording shows a body that is no problem as JSON.
      { message: JSON.stringify(JSON.stringify('no such thing')) },
      'a body that is no problem: as JSON',
    );
  },
);
