/**
 * BoxTransport: trust is exactly the box's CA list (nothing from Node's
 * bundled roots, nothing from another box), names go only to the box's name
 * servers, and failures come back as one-line TransportErrors.
 */
import t, { type Test } from 'tap';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectFaults } from '../lib/connect-faults.js';
import { GateMap } from '../lib/gate.js';
import { createListenerCertificate } from './pebble-launcher.js';
import { freePort } from '../lib/net.js';
import {
  BoxTransport,
  createBoxLookup,
  createTrustContext,
  DirectoryCache,
  inspectServerChain,
  isTrustFailure,
  NoncePool,
  resolves,
  retryAfterMs,
  TransportError,
} from './transport.js';

const dir = mkdtempSync(join(tmpdir(), 'gvos-transport-'));
const good = await createListenerCertificate(dir, ['localhost', '127.0.0.1'], 'transport test CA');
const otherDir = mkdtempSync(join(tmpdir(), 'gvos-transport-other-'));
t.teardown(() => [dir, otherDir].forEach((d) => rmSync(d, { recursive: true, force: true })));
const other = await createListenerCertificate(otherDir, ['127.0.0.1'], 'some other CA');

const server = createServer(
  { cert: readFileSync(good.certPath), key: readFileSync(good.keyPath) },
  (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"ok":true}');
  },
);
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
t.teardown(() => server.close());
const port = (server.address() as { port: number }).port;
const url = `https://127.0.0.1:${port}/dir`;

const transport = (caPems: string[], nameServers = ['127.0.0.1'], gates?: GateMap) =>
  new BoxTransport({
    caPems,
    nameServers,
    requestTimeoutMs: 2000,
    dnsTimeoutMs: 300,
    userAgent: 'test',
    ...(gates ? { gates } : {}),
  });

t.test(
  'trust is per transport: concurrently, the box with the CA succeeds and the others are refused',
  async (t) => {
    const a = transport([good.caPem]);
    const b = transport([]);
    const c = transport([other.caPem]);
    t.teardown(() => [a, b, c].forEach((x) => x.close()));
    const [ra, rb, rc] = await Promise.allSettled([
      a.request(url, 'get'),
      b.request(url, 'get'),
      c.request(url, 'get'),
    ]);
    t.match(ra, { status: 'fulfilled', value: { status: 200, data: { ok: true } } });
    t.match(rb, { status: 'rejected', reason: { kind: 'tls', code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' } });
    t.match(rc, { status: 'rejected', reason: { kind: 'tls' } });
    t.ok(isTrustFailure((rb as PromiseRejectedResult).reason));
    // And again after A's connection is open and kept alive.
    await t.rejects(b.request(url, 'get'), { name: 'TransportError', kind: 'tls' }, 'no trust leaks from A');
  },
);

t.test(
  'later operations with the same CA list reuse the kept-alive connection or resume its session; no other list gets either',
  async (t) => {
    // Answers which connection carried the request and whether it resumed a session (what the server saw).
    let connections = 0;
    const resuming = createServer(
      { cert: readFileSync(good.certPath), key: readFileSync(good.keyPath) },
      (req, res) => {
        const socket = req.socket as import('node:tls').TLSSocket;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ connection: connections, resumed: socket.isSessionReused() }));
      },
    );
    resuming.on('secureConnection', () => connections++);
    await new Promise<void>((r) => resuming.listen(0, '127.0.0.1', r));
    t.teardown(() => resuming.close());
    const u = `https://127.0.0.1:${(resuming.address() as { port: number }).port}/dir`;
    const context = createTrustContext([good.caPem]);
    const op = (caPems: string[], trustContext?: ReturnType<typeof createTrustContext>) =>
      new BoxTransport({
        caPems,
        ...(trustContext ? { trustContext } : {}),
        nameServers: ['127.0.0.1'],
        requestTimeoutMs: 2000,
        dnsTimeoutMs: 300,
        userAgent: 'test',
      });
    // One operation of a box with the shared CA list: a transport, one request, closed.
    const operation = async (want: object, label: string) => {
      const box = op([good.caPem], context);
      t.match(await box.request(u, 'get'), { status: 200, data: want }, label);
      box.close();
    };
    await operation({ connection: 1, resumed: false }, 'first: a new connection, full handshake');
    await operation(
      { connection: 1 },
      "second operation (another box's, same CA list): the same connection, no handshake",
    );
    // The server drops the idle connection: the next operation connects again and resumes.
    resuming.closeIdleConnections();
    await new Promise((r) => setTimeout(r, 50));
    await operation({ connection: 2, resumed: true }, 'third: a new connection that resumes the session');
    // A box that does not trust the CA is refused as before: no connection or session crosses CA lists.
    for (const caPems of [[], [other.caPem]]) {
      const stranger = op(caPems);
      await t.rejects(
        stranger.request(u, 'get'),
        { name: 'TransportError', kind: 'tls' },
        'untrusted: refused',
      );
      stranger.close();
    }
    t.equal(connections, 2, 'the refused handshakes never completed');
  },
);

t.test("a cut ends the cut box's requests on a shared connection pool and not its neighbour's", async (t) => {
  const slow = createServer(
    { cert: readFileSync(good.certPath), key: readFileSync(good.keyPath) },
    (_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"ok":true}');
      }, 300);
    },
  );
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
  t.teardown(() => slow.close());
  const u = `https://127.0.0.1:${(slow.address() as { port: number }).port}/dir`;
  const context = createTrustContext([good.caPem]);
  const faults = new ConnectFaults();
  const shared = (f?: ConnectFaults) =>
    new BoxTransport({
      caPems: [good.caPem],
      trustContext: context,
      nameServers: ['127.0.0.1'],
      requestTimeoutMs: 2000,
      dnsTimeoutMs: 300,
      userAgent: 'test',
      ...(f ? { faults: f } : {}),
    });
  const box = shared(faults);
  const neighbour = shared();
  t.teardown(() => [box, neighbour].forEach((x) => x.close()));
  const mine = box.request(u, 'get');
  const theirs = neighbour.request(u, 'get');
  await new Promise((r) => setTimeout(r, 100));
  faults.setRefuse(true);
  await t.rejects(mine, { name: 'TransportError', kind: 'connect' }, 'the cut box: reset');
  t.match(await theirs, { status: 200 }, 'the neighbour on the same pool: answered');
});

t.test('the diagnostic handshake names the CA the server chains to', async (t) => {
  const lookup = createBoxLookup(['127.0.0.1'], 300);
  const r = await inspectServerChain(url, [], lookup, 2000);
  t.equal(r.authorizationError, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  t.same(r.chain, [{ subject: 'localhost', issuer: 'transport test CA' }]);
  const ok = await inspectServerChain(url, [good.caPem], lookup, 2000);
  t.equal(ok.authorizationError, null);
});

t.test("names are looked up only at the box's name servers", async (t) => {
  const dead = `127.0.0.1:${await freePort('127.0.0.1', 'both')}`;
  const x = transport([good.caPem], [dead]);
  t.teardown(() => x.close());
  // "localhost" is in /etc/hosts, but the box must not use the host's resolver.
  await t.rejects(x.request(`https://localhost:${port}/dir`, 'get'), {
    kind: 'dns',
    message: new RegExp(`cannot resolve localhost through the box's name server\\(s\\) ${dead}`),
  });
  const none = transport([good.caPem], []);
  t.teardown(() => none.close());
  await t.rejects(none.request(`https://localhost:${port}/dir`, 'get'), {
    kind: 'dns',
    code: 'ENONAMESERVER',
  });
  t.match(await none.request(url, 'get'), { status: 200 }, 'IP literals need no lookup');
});

t.test('a box without a name server still reaches a CA given by IP address', async (t) => {
  const lookup = createBoxLookup([], 300);
  const ask = (host: string, all: boolean) =>
    new Promise<unknown>((resolve, reject) =>
      lookup(host, { all }, (err, address, family) =>
        err ? reject(err) : resolve(all ? address : { address, family }),
      ),
    );
  t.same(await ask('127.0.0.1', false), { address: '127.0.0.1', family: 4 });
  t.same(await ask('::1', true), [{ address: '::1', family: 6 }], 'as a list when all is asked');
  await t.rejects(ask('localhost', false), { code: 'ENONAMESERVER' }, 'a name still needs one');
});

t.test('connection failures and non-https URLs', async (t) => {
  const x = transport([good.caPem]);
  t.teardown(() => x.close());
  const closed = await freePort();
  await t.rejects(x.request(`https://127.0.0.1:${closed}/dir`, 'get'), {
    kind: 'connect',
    code: 'ECONNREFUSED',
    message: `cannot connect to 127.0.0.1:${closed} (ECONNREFUSED)`,
  });
  await t.rejects(x.request(`http://127.0.0.1:${port}/dir`, 'get'), {
    name: 'TransportError',
    kind: 'protocol',
  });
  const ac = new AbortController();
  const y = new BoxTransport({
    caPems: [good.caPem],
    nameServers: [],
    requestTimeoutMs: 2000,
    dnsTimeoutMs: 300,
    signal: ac.signal,
    userAgent: 'test',
  });
  ac.abort();
  await t.rejects(y.request(url, 'get'), { name: 'TransportError', kind: 'aborted' });
  t.ok(new TransportError('tls', 'x', 'CERT_HAS_EXPIRED') instanceof Error);
});

t.test('retryAfterMs: seconds, HTTP dates, garbage', async (t) => {
  const now = Date.UTC(2026, 0, 1);
  t.equal(retryAfterMs('120', now), 120_000);
  t.equal(retryAfterMs('0', now), 0);
  t.equal(retryAfterMs(new Date(now + 30_000).toUTCString(), now), 30_000);
  t.equal(retryAfterMs(new Date(now - 30_000).toUTCString(), now), 0, 'a date in the past: retry now');
  t.equal(retryAfterMs('soon', now), undefined);
  t.equal(retryAfterMs(undefined, now), undefined);
});

t.test('a shared gate bounds the requests in flight to a server, and every place comes back', async (t) => {
  const gates = new GateMap(2);
  const boxes = Array.from({ length: 6 }, () => transport([good.caPem], ['127.0.0.1'], gates));
  t.teardown(() => boxes.forEach((b) => b.close()));
  const gate = gates.for(new URL(url).origin);
  const pending = boxes.map((b) => b.request(url, 'get'));
  // Places are taken synchronously, in call order.
  t.equal(gate.holders, 2, 'two requests in flight');
  t.equal(gate.waiting, 4, 'four wait for a place');
  const results = await Promise.allSettled(pending);
  t.ok(
    results.every((r) => r.status === 'fulfilled' && r.value.status === 200),
    'every request answered',
  );
  t.equal(gate.holders, 0, 'all places given back');
  // A failed request gives its place back too.
  const untrusting = transport([], ['127.0.0.1'], gates);
  t.teardown(() => untrusting.close());
  const refused = await untrusting.request(url, 'get').then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(refused instanceof TransportError && refused.kind === 'tls', 'the untrusting box is refused');
  t.equal(gate.holders, 0, 'a refused handshake gives its place back');
});

t.test(
  "a box's connect faults: refused as a reset, answers held back past the deadline, counted; off costs nothing",
  async (t) => {
    const faults = new ConnectFaults();
    const box = new BoxTransport({
      caPems: [good.caPem],
      nameServers: ['127.0.0.1'],
      requestTimeoutMs: 300,
      dnsTimeoutMs: 300,
      userAgent: 'test',
      faults,
    });
    const neighbour = transport([good.caPem]);
    t.teardown(() => [box, neighbour].forEach((x) => x.close()));
    t.match(await box.request(url, 'get'), { status: 200 }, 'no fault: answered');
    faults.setRefuse(true);
    await t.rejects(
      box.request(url, 'get'),
      { name: 'TransportError', kind: 'connect', code: 'ECONNRESET' },
      'unreachable: reset',
    );
    t.equal(faults.counters.refused, 1, 'the refused request is counted');
    t.match(await neighbour.request(url, 'get'), { status: 200 }, 'another box is not affected');
    faults.setRefuse(false);
    faults.setDelay(1000);
    await t.rejects(
      box.request(url, 'get'),
      { name: 'TransportError', kind: 'timeout' },
      'slow past the request timeout: timeout',
    );
    t.equal(faults.counters.delayed, 1, 'the held-back answer is counted');
    faults.setDelay(0);
    t.match(await box.request(url, 'get'), { status: 200 }, 'off again: answered');
    t.same(
      faults.counters,
      { refused: 1, delayed: 1, dropped: 0 },
      'counters only grow while faults take effect',
    );
  },
);

t.test(
  "a box's dropped path: nothing reaches the server, the request times out (not a reset), no gate place held",
  async (t) => {
    let seen = 0;
    const counting = createServer(
      { cert: readFileSync(good.certPath), key: readFileSync(good.keyPath) },
      (_req, res) => {
        seen++;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"ok":true}');
      },
    );
    await new Promise<void>((r) => counting.listen(0, '127.0.0.1', r));
    t.teardown(() => counting.close());
    const u = `https://127.0.0.1:${(counting.address() as { port: number }).port}/dir`;
    const faults = new ConnectFaults();
    const gates = new GateMap(1);
    const box = new BoxTransport({
      caPems: [good.caPem],
      nameServers: ['127.0.0.1'],
      requestTimeoutMs: 300,
      dnsTimeoutMs: 300,
      userAgent: 'test',
      gates,
      faults,
    });
    const neighbour = transport([good.caPem], ['127.0.0.1'], gates);
    t.teardown(() => [box, neighbour].forEach((x) => x.close()));
    t.match(await box.request(u, 'get'), { status: 200 }, 'no fault: answered');
    t.equal(seen, 1);
    faults.setDrop(true);
    const lost = box.request(u, 'get');
    t.match(
      await neighbour.request(u, 'get'),
      { status: 200 },
      'a neighbour sharing the one gate place is answered meanwhile',
    );
    await t.rejects(
      lost,
      { name: 'TransportError', kind: 'timeout', code: 'ETIMEDOUT', message: /no answer .* within 300 ms/ },
      'dropped: a timeout, not a reset',
    );
    t.equal(seen, 2, 'the dropped request never reached the server (only the neighbour did)');
    t.equal(faults.counters.dropped, 1, 'counted');
    faults.setDrop(false);
    t.match(await box.request(u, 'get'), { status: 200 }, 'off again: answered');
    t.same(faults.counters, { refused: 0, delayed: 0, dropped: 1 });
  },
);

/**
 * Five boxes each hold a kept-alive connection from a first request; a sixth
 * holds the one place of the gate on a held-back answer; the five ask again
 * and wait. The server counts the connections open.
 */
/**
 * A server that answers at once, except /held, whose answer waits for
 * hold(); it counts the connections accepted and open.
 */
async function holdingServer(t: Test) {
  const s = { hold: undefined as (() => void) | undefined, open: 0, accepted: 0, base: '' };
  const server = createServer(
    { cert: readFileSync(good.certPath), key: readFileSync(good.keyPath) },
    (req, res) => {
      const answer = () => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"ok":true}');
      };
      if (req.url === '/held') s.hold = answer;
      else answer();
    },
  );
  server.on('secureConnection', (c) => {
    s.open++;
    s.accepted++;
    c.once('close', () => s.open--);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  s.base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  return s;
}

/** Options of a box trusting the good CA behind `gates` (one place each in these tests). */
const gatedOptions = (gates: GateMap, dropIdleAtQueue: number) => ({
  caPems: [good.caPem],
  nameServers: ['127.0.0.1'],
  requestTimeoutMs: 5000,
  dnsTimeoutMs: 300,
  userAgent: 'test',
  gates,
  dropIdleAtQueue,
});

async function fiveWaitBehindOne(t: Test, dropIdleAtQueue: number, expectOpen: number) {
  const srv = await holdingServer(t);
  const base = srv.base;
  const gates = new GateMap(1);
  const make = () => new BoxTransport(gatedOptions(gates, dropIdleAtQueue));
  const five = Array.from({ length: 5 }, make);
  const holder = make();
  t.teardown(() => [...five, holder].forEach((b) => b.close()));
  for (const b of five) await b.request(`${base}/first`, 'get');
  t.equal(srv.open, 5, 'after their first request, the five boxes keep their connections');
  const held = holder.request(`${base}/held`, 'get');
  while (!srv.hold) await new Promise((r) => setTimeout(r, 10));
  const acceptedBefore = srv.accepted;
  const again = five.map((b) => b.request(`${base}/second`, 'get'));
  const gate = gates.for(base);
  t.equal(gate.waiting, 5, 'the five wait for the place');
  // The closes reach the server asynchronously: wait for the count expected (bounded; the old
  // wait for "1" sat out its whole 2 s bound when 6 stay open), then a few turns of the loop, in
  // which a close already sent would arrive (the server is in this process, on loopback).
  for (let i = 0; i < 100 && srv.open > expectOpen; i++) await new Promise((r) => setTimeout(r, 20));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  const openWhileWaiting = srv.open;
  srv.hold!();
  const results = await Promise.allSettled([held, ...again]);
  t.ok(
    results.every((r) => r.status === 'fulfilled' && r.value.status === 200),
    'every request is answered',
  );
  return { openWhileWaiting, reconnected: srv.accepted - acceptedBefore };
}

t.test('a box waiting behind a long queue holds no idle connection to the CA', async (t) => {
  const r = await fiveWaitBehindOne(t, 0, 1);
  t.equal(r.openWhileWaiting, 1, 'while they wait, only the connection in use is open');
  t.equal(r.reconnected, 5, 'each waiting box connects again when its turn comes');
});

t.test('behind a short queue, a box keeps its connection for its next request', async (t) => {
  const r = await fiveWaitBehindOne(t, 64, 6);
  t.equal(r.openWhileWaiting, 6, 'the five idle connections stay open while they wait');
  t.equal(r.reconnected, 0, 'and serve the next request');
});

t.test(
  'a box of a shared connection pool waiting behind the queue leaves the pool its idle connection',
  async (t) => {
    const srv = await holdingServer(t);
    const base = srv.base;
    const context = createTrustContext([good.caPem]);
    const options = gatedOptions(new GateMap(1), 0);
    const a = new BoxTransport({ ...options, trustContext: context });
    const b = new BoxTransport({ ...options, trustContext: context });
    // Another CA list's box (a pool of its own) holds the one place.
    const holder = new BoxTransport(options);
    t.teardown(() => [a, b, holder].forEach((x) => x.close()));
    await a.request(`${base}/first`, 'get');
    t.equal(srv.accepted, 1, "box A's request left the pool one idle connection");
    const held = holder.request(`${base}/held`, 'get');
    while (!srv.hold) await new Promise((r) => setTimeout(r, 10));
    t.equal(srv.accepted, 2, 'the holder connected on its own');
    const waiting = b.request(`${base}/second`, 'get');
    srv.hold!();
    t.match(await held, { status: 200 });
    t.match(await waiting, { status: 200 }, 'box B was answered');
    t.equal(srv.accepted, 2, "box B rode the pool's idle connection: no new one");
  },
);

t.test('boxes sharing a connection pool keep its connections however long the queue', async (t) => {
  let accepted = 0;
  const server = createServer(
    { cert: readFileSync(good.certPath), key: readFileSync(good.keyPath) },
    (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"ok":true}');
    },
  );
  server.on('secureConnection', () => accepted++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const u = `https://127.0.0.1:${(server.address() as { port: number }).port}/dir`;
  const context = createTrustContext([good.caPem]);
  const gates = new GateMap(2);
  const boxes = Array.from(
    { length: 20 },
    () =>
      new BoxTransport({
        caPems: [good.caPem],
        trustContext: context,
        nameServers: ['127.0.0.1'],
        requestTimeoutMs: 5000,
        dnsTimeoutMs: 300,
        userAgent: 'test',
        gates,
        dropIdleAtQueue: 0,
      }),
  );
  t.teardown(() => boxes.forEach((b) => b.close()));
  await Promise.all(
    boxes.map(async (b) => {
      for (let i = 0; i < 3; i++) await b.request(u, 'get');
    }),
  );
  t.ok(accepted <= 2, `60 requests of 20 boxes, 2 at a time, on at most 2 connections (${accepted})`);
});

t.test(
  "aborting the operation ends its requests in flight at once, gives the gate place back, and spares the neighbour's",
  async (t) => {
    const srv = await holdingServer(t);
    const gates = new GateMap(2);
    const ac = new AbortController();
    const box = new BoxTransport({ ...gatedOptions(gates, 64), signal: ac.signal });
    const neighbour = new BoxTransport(gatedOptions(gates, 64));
    t.teardown(() => [box, neighbour].forEach((b) => b.close()));
    const held = box.request(`${srv.base}/held`, 'get');
    while (!srv.hold) await new Promise((r) => setTimeout(r, 10));
    const gate = gates.for(srv.base);
    t.equal(gate.holders, 1, 'the held request has its place');
    ac.abort();
    await t.rejects(
      held,
      { name: 'TransportError', kind: 'aborted', message: 'the operation was cancelled' },
      'the request in flight ends as aborted, long before its 5-s deadline',
    );
    t.equal(gate.holders, 0, 'its place came back');
    t.match(
      await neighbour.request(`${srv.base}/after`, 'get'),
      { status: 200 },
      'the neighbour is answered',
    );
    await t.rejects(
      box.request(`${srv.base}/again`, 'get'),
      { name: 'TransportError', kind: 'aborted' },
      'and no new request starts',
    );
  },
);

t.test(
  'DirectoryCache: kept per URL, shared by a pool, forgotten on demand and after its age bound; a fetch under way is shared',
  async (t) => {
    let now = 0;
    const c = new DirectoryCache(600_000, () => now);
    const d = { newNonce: 'https://ca.test/nonce', newAccount: 'x', newOrder: 'y' };
    t.equal(c.get('https://ca.test/dir'), undefined, 'nothing before a fetch');
    c.keep('https://ca.test/dir', d);
    t.equal(c.get('https://ca.test/dir'), d, 'the fetched directory');
    t.equal(c.get('https://other.test/dir'), undefined, 'per directory URL');
    now = 600_000;
    t.equal(c.get('https://ca.test/dir'), d, 'still used at the bound');
    now = 600_001;
    t.equal(c.get('https://ca.test/dir'), undefined, 'fetched again past the bound');
    c.keep('https://ca.test/dir', d);
    c.forget('https://ca.test/dir');
    t.equal(c.get('https://ca.test/dir'), undefined, 'forgotten');

    // A fetch under way is found by the boxes that start meanwhile, and only while it runs.
    let done!: (d: Record<string, unknown> | undefined) => void;
    const fetch = new Promise<Record<string, unknown> | undefined>((r) => (done = r));
    c.track('https://ca.test/dir', fetch);
    t.equal(c.pending('https://ca.test/dir'), fetch, 'a fetch under way is found');
    t.equal(c.pending('https://other.test/dir'), undefined, 'per directory URL');
    done(d);
    t.equal(await c.pending('https://ca.test/dir'), d, 'it resolves with the directory');
    await fetch;
    t.equal(c.pending('https://ca.test/dir'), undefined, 'gone once it has ended');

    const context = createTrustContext([good.caPem]);
    const opts = {
      caPems: [good.caPem],
      trustContext: context,
      nameServers: [],
      requestTimeoutMs: 1000,
      dnsTimeoutMs: 500,
      userAgent: 't',
    };
    const a = new BoxTransport(opts);
    const b = new BoxTransport(opts);
    const own = new BoxTransport({ ...opts, trustContext: undefined });
    t.teardown(() => [a, b, own].forEach((x) => x.close()));
    t.equal(a.directories, b.directories, 'one cache for one trust context and name servers');
    t.not(own.directories, a.directories, 'a transport with its own connections shares none');
  },
);

t.test(
  'the nonce pool keeps what a fleet start leaves, freshest first, within its count and age bounds',
  async (t) => {
    let now = 0;
    const pool = new NoncePool(undefined, 30_000, () => now);
    const origin = 'https://ca.test';
    // A 1000-box lab's start checks each leave one nonce before the first signed request takes one.
    for (let i = 0; i < 1000; i++) pool.keep(origin, `n${i}`);
    t.equal(pool.size(origin), 1000, 'none dropped');
    t.equal(pool.take(origin), 'n999', 'the freshest first');
    const taken = new Set<string | undefined>();
    for (let i = 0; i < 999; i++) taken.add(pool.take(origin));
    t.equal(taken.size, 999, 'each handed out once');
    t.notOk(taken.has(undefined), 'every box of the fleet got one');
    t.equal(pool.take(origin), undefined, 'then empty');

    const small = new NoncePool(3, 30_000, () => now);
    for (const n of ['a', 'b', 'c', 'd']) small.keep(origin, n);
    t.same(
      [small.take(origin), small.take(origin), small.take(origin), small.take(origin)],
      ['d', 'c', 'b', undefined],
      'past the bound the oldest goes',
    );
    small.keep(origin, 'old');
    now += 30_001;
    t.equal(small.take(origin), undefined, 'older than the age bound: not used');
    t.equal(small.size(origin), 0, 'and the rest, older still, dropped');
    t.ok(NoncePool.MAX >= 1000, `the default bound (${NoncePool.MAX}) holds a 1000-box start`);
  },
);

/** The eight groups of an IPv6 address written with "::". */
function ipv6Groups(a: string): string[] {
  const [l = '', r = ''] = a.split('::');
  const left = l ? l.split(':') : [];
  const right = r ? r.split(':') : [];
  return [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
}

/**
 * A name server on 127.0.0.1 that answers A and AAAA questions from
 * `records` (NXDOMAIN for a name it does not have) and notes each question.
 */
async function nameServer(t: Test, records: Record<string, { A?: string[]; AAAA?: string[] }>) {
  const asked: string[] = [];
  const sock = createSocket('udp4');
  sock.on('message', (q, from) => {
    let i = 12;
    const labels: string[] = [];
    while (q[i]! !== 0) {
      labels.push(q.toString('latin1', i + 1, i + 1 + q[i]!));
      i += q[i]! + 1;
    }
    const qtype = q.readUInt16BE(i + 1);
    const type = qtype === 1 ? 'A' : qtype === 28 ? 'AAAA' : String(qtype);
    const name = labels.join('.').toLowerCase();
    asked.push(`${type} ${name}`);
    const rec = records[name];
    const rdata = ((type === 'A' || type === 'AAAA' ? rec?.[type] : undefined) ?? []).map((a) =>
      type === 'A'
        ? Buffer.from(a.split('.').map(Number))
        : Buffer.from(
            ipv6Groups(a)
              .map((h) => h.padStart(4, '0'))
              .join(''),
            'hex',
          ),
    );
    const header = Buffer.alloc(12);
    header.writeUInt16BE(q.readUInt16BE(0), 0);
    header.writeUInt16BE(rec ? 0x8180 : 0x8183, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(rdata.length, 6);
    const answers = rdata.map((d) => {
      const a = Buffer.alloc(12);
      a.writeUInt16BE(0xc00c, 0);
      a.writeUInt16BE(qtype, 2);
      a.writeUInt16BE(1, 4);
      a.writeUInt32BE(60, 6);
      a.writeUInt16BE(d.length, 10);
      return Buffer.concat([a, d]);
    });
    sock.send(Buffer.concat([header, q.subarray(12, i + 5), ...answers]), from.port, from.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  t.teardown(() => sock.close());
  return { server: `127.0.0.1:${sock.address().port}`, asked };
}

t.test("a name's check asks the box's name server for A, and for AAAA only when there is no A", async (t) => {
  const ns = await nameServer(t, {
    'both.lab.test': { A: ['127.0.0.9'], AAAA: ['::9'] },
    'v4.lab.test': { A: ['127.0.0.9'] },
    'v6.lab.test': { AAAA: ['::9'] },
  });
  const lookup = createBoxLookup([ns.server], 1000);
  const check = async (name: string) => {
    ns.asked.length = 0;
    const ok = await resolves(lookup, name);
    return { ok, asked: [...ns.asked] };
  };
  t.same(await check('both.lab.test'), { ok: true, asked: ['A both.lab.test'] }, 'an A record: one query');
  t.same(await check('v4.lab.test'), { ok: true, asked: ['A v4.lab.test'] });
  t.same(
    await check('v6.lab.test'),
    { ok: true, asked: ['A v6.lab.test', 'AAAA v6.lab.test'] },
    'an AAAA record alone still resolves',
  );
  t.same(
    await check('none.lab.test'),
    { ok: false, asked: ['A none.lab.test', 'AAAA none.lab.test'] },
    'no record of either family: refused after both',
  );
  // The same lookup with all: true (a connection's, Node's autoSelectFamily) still gets every address.
  const all = await new Promise<unknown>((resolve, reject) =>
    lookup('both.lab.test', { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );
  t.same(all, [
    { address: '127.0.0.9', family: 4 },
    { address: '::9', family: 6 },
  ]);
});
