/**
 * The two-kind lock per CA (issue 16, Pebble 2.4.0's deadlock): a newOrder
 * and an authorization POST to the same CA are never in flight together,
 * seen from a local HTTPS server that holds each request until the test lets
 * it answer. Different CAs do not wait for each other; neither kind starves.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createListenerCertificate } from './pebble-launcher.js';
import { BoxTransport, kindLockFor, type AcmeRequestKind } from './transport.js';

const dir = mkdtempSync(join(tmpdir(), 'gvos-kind-lock-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const cert = await createListenerCertificate(dir, ['127.0.0.1'], 'kind lock test CA');

/** A CA stand-in: every request is held until release(path); `seen` lists the paths in arrival order. */
async function holdingServer() {
  const seen: string[] = [];
  const held = new Map<string, ServerResponse>();
  const waiters = new Map<string, () => void>();
  const server: Server = createServer(
    { cert: readFileSync(cert.certPath), key: readFileSync(cert.keyPath) },
    (req, res) => {
      req.resume();
      req.on('end', () => {
        const path = req.url ?? '';
        seen.push(path);
        held.set(path, res);
        waiters.get(path)?.();
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const origin = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    origin,
    seen,
    /** Resolves once `path` has reached the server. */
    arrived: (path: string) =>
      seen.includes(path) ? Promise.resolve() : new Promise<void>((r) => waiters.set(path, r)),
    release: (path: string) => {
      const res = held.get(path)!;
      held.delete(path);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{}');
    },
  };
}

const a = await holdingServer();
const b = await holdingServer();
const transport = new BoxTransport({
  caPems: [cert.caPem],
  nameServers: [],
  requestTimeoutMs: 20_000,
  dnsTimeoutMs: 300,
  userAgent: 'test',
});
t.teardown(() => transport.close());
const send = (origin: string, path: string, kind?: AcmeRequestKind) =>
  transport.request(`${origin}${path}`, 'post', { data: {}, ...(kind ? { kind } : {}) });
/** Lets the event loop run long enough for a request that was free to go to reach the server. */
const settle = () => new Promise((r) => setTimeout(r, 150));

t.test('while a newOrder is in flight, an authorization fetch to the same CA waits', async (t) => {
  const order = send(a.origin, '/order-plz/1', 'newOrder');
  await a.arrived('/order-plz/1');
  const authz = send(a.origin, '/authZ/1', 'authz');
  const plain = send(a.origin, '/order/1'); // neither kind: never waits
  await a.arrived('/order/1');
  await settle();
  t.notOk(a.seen.includes('/authZ/1'), 'the authorization fetch has not been sent');
  t.equal(kindLockFor(a.origin).waiting('authz'), 1);
  a.release('/order-plz/1');
  a.release('/order/1');
  await Promise.all([order, plain]);
  await a.arrived('/authZ/1');
  a.release('/authZ/1');
  t.match(await authz, { status: 200 }, 'it goes once the newOrder has ended');
});

t.test('while an authorization fetch is in flight, a newOrder to the same CA waits', async (t) => {
  const authz = send(a.origin, '/authZ/2', 'authz');
  await a.arrived('/authZ/2');
  const order = send(a.origin, '/order-plz/2', 'newOrder');
  await settle();
  t.notOk(a.seen.includes('/order-plz/2'), 'the newOrder has not been sent');
  a.release('/authZ/2');
  await authz;
  await a.arrived('/order-plz/2');
  a.release('/order-plz/2');
  t.match(await order, { status: 200 });
});

t.test('different CAs do not wait for each other', async (t) => {
  const order = send(a.origin, '/order-plz/3', 'newOrder');
  await a.arrived('/order-plz/3');
  const authz = send(b.origin, '/authZ/3', 'authz');
  await b.arrived('/authZ/3'); // would hang (test timeout) if it waited for CA a's newOrder
  t.equal(kindLockFor(b.origin).holders.kind, 'authz');
  b.release('/authZ/3');
  a.release('/order-plz/3');
  await Promise.all([order, authz]);
});

t.test(
  'any number of one kind at once; a waiting other kind takes the next turn, so neither starves',
  async (t) => {
    const o1 = send(a.origin, '/order-plz/4', 'newOrder');
    const o2 = send(a.origin, '/order-plz/5', 'newOrder');
    await Promise.all([a.arrived('/order-plz/4'), a.arrived('/order-plz/5')]);
    t.same(kindLockFor(a.origin).holders, { kind: 'newOrder', count: 2 }, 'two newOrders together');
    const z1 = send(a.origin, '/authZ/4', 'authz');
    // A newOrder after the waiting fetch does not join the holders: it waits its turn.
    const o3 = send(a.origin, '/order-plz/6', 'newOrder');
    await settle();
    t.notOk(a.seen.includes('/order-plz/6'), 'the later newOrder waits behind the fetch');
    a.release('/order-plz/4');
    await settle();
    t.notOk(a.seen.includes('/authZ/4'), 'the fetch waits for the last newOrder');
    a.release('/order-plz/5');
    await a.arrived('/authZ/4');
    await settle();
    t.notOk(a.seen.includes('/order-plz/6'), 'the third newOrder waits while the fetch runs');
    a.release('/authZ/4');
    await a.arrived('/order-plz/6');
    a.release('/order-plz/6');
    t.match(await Promise.all([o1, o2, z1, o3]), [
      { status: 200 },
      { status: 200 },
      { status: 200 },
      { status: 200 },
    ]);
    t.same(kindLockFor(a.origin).holders, { kind: undefined, count: 0 }, 'all released');
  },
);

t.test('a waiter whose operation is cancelled leaves the queue; the lock goes on', async (t) => {
  const ac = new AbortController();
  const cancellable = new BoxTransport({
    caPems: [cert.caPem],
    nameServers: [],
    requestTimeoutMs: 20_000,
    dnsTimeoutMs: 300,
    userAgent: 'test',
    signal: ac.signal,
  });
  t.teardown(() => cancellable.close());
  const order = send(a.origin, '/order-plz/7', 'newOrder');
  await a.arrived('/order-plz/7');
  const authz = cancellable.request(`${a.origin}/authZ/7`, 'post', { data: {}, kind: 'authz' });
  ac.abort();
  await t.rejects(authz, { name: 'TransportError', kind: 'aborted' });
  t.equal(kindLockFor(a.origin).waiting('authz'), 0);
  const order2 = send(a.origin, '/order-plz/8', 'newOrder');
  await a.arrived('/order-plz/8'); // joins the holding kind: nothing of the other kind waits now
  a.release('/order-plz/7');
  a.release('/order-plz/8');
  await Promise.all([order, order2]);
});
