/**
 * Http1Pool against a raw TLS server that writes its answers byte by byte
 * as a server may: chunked bodies split anywhere, informational answers,
 * Connection: close, bodies until close, oversized bodies, repeated headers;
 * TLS verified as https does (chain and name); connections kept alive.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, createSecureContext, type TLSSocket } from 'node:tls';
import { Http1Pool, type Http1RequestOptions } from './http1.js';
import { createListenerCertificate } from './pebble-launcher.js';

const dir = mkdtempSync(join(tmpdir(), 'gvos-http1-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const good = await createListenerCertificate(dir, ['127.0.0.1'], 'http1 test CA');
const otherDir = mkdtempSync(join(tmpdir(), 'gvos-http1-other-'));
t.teardown(() => rmSync(otherDir, { recursive: true, force: true }));
const other = await createListenerCertificate(otherDir, ['127.0.0.1'], 'some other CA');

/** Answers by path: each answer is a list of raw pieces written with a pause between them. */
const ANSWERS: Record<string, string[]> = {
  '/json': ['HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'],
  '/chunked': [
    'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nLink: <a>;rel="up"\r\nLink: <b>;rel="index"\r\n',
    'Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\n5\r\nhel',
    'lo\r\n',
    '6;ext=1\r\n worl',
    'd\r\n0\r\nX-Trailer: y\r\n\r\n',
  ],
  '/continue': ['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 204 No Content\r\nReplay-Nonce: n1\r\n\r\n'],
  '/close': ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi'],
  '/until-close': ['HTTP/1.1 200 OK\r\n\r\nall of ', 'it', null as unknown as string],
  '/big-length': ['HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n'],
  '/big-chunked': [
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
    '401\r\n' + 'x'.repeat(1025) + '\r\n',
  ],
  '/garbage': ['SSH-2.0-OpenSSH\r\n\r\n'],
};

async function server(t: Test, pair: { certPath: string; keyPath: string }) {
  const s = { accepted: 0, requests: [] as string[], port: 0 };
  const srv = createServer(
    { cert: readFileSync(pair.certPath), key: readFileSync(pair.keyPath) },
    (c: TLSSocket) => {
      s.accepted++;
      let buf = '';
      c.on('error', () => undefined);
      // Answers are written in order, one request after the other.
      let writing = Promise.resolve();
      const answer = async (path: string) => {
        for (const piece of ANSWERS[path] ?? ANSWERS['/json']!) {
          if (piece === null) c.end();
          else c.write(piece);
          await new Promise((r) => setTimeout(r, 5));
        }
        if (path === '/close') c.end();
      };
      c.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buf.slice(0, end);
          const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
          if (buf.length < end + 4 + len) return;
          s.requests.push(buf.slice(0, end + 4 + len));
          buf = buf.slice(end + 4 + len);
          const path = head.split(' ')[1]!;
          writing = writing.then(() => answer(path));
        }
      });
    },
  );
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  s.port = (srv.address() as { port: number }).port;
  return s;
}

const lookup: LookupFunction = (_h, _o, cb) =>
  (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
    { address: '127.0.0.1', family: 4 },
  ]);

function pool(t: Test, caPem = good.caPem) {
  const p = new Http1Pool(createSecureContext({ ca: [caPem] }), lookup, 4000);
  t.teardown(() => p.destroy());
  return p;
}

const req = (port: number, path: string, more: Partial<Http1RequestOptions> = {}): Http1RequestOptions => ({
  hostname: '127.0.0.1',
  port,
  hostHeader: `127.0.0.1:${port}`,
  method: 'GET',
  path,
  headers: { 'User-Agent': 'test' },
  maxBodyBytes: 1024,
  tooLarge: () => new Error('too large'),
  ...more,
});

t.test(
  'one write per request; a kept-alive connection carries the next; Content-Length bodies',
  async (t) => {
    const s = await server(t, good);
    const p = pool(t);
    const body = Buffer.from('{"a":1}');
    // A caller's Content-Length is left out: the client frames the body itself (one header, not two).
    const r = await p.request(
      req(s.port, '/json', { method: 'POST', body, headers: { 'User-Agent': 'test', 'Content-Length': 99 } }),
    ).done;
    t.equal(r.status, 200);
    t.equal(r.body.toString(), '{"ok":true}');
    t.equal(r.headers['content-type'], 'application/json');
    t.equal(
      s.requests[0],
      `POST /json HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nUser-Agent: test\r\nContent-Length: 7\r\n\r\n{"a":1}`,
    );
    await p.request(req(s.port, '/json')).done;
    t.equal(s.accepted, 1, 'the second request rode the same connection');
    t.equal(p.connections, 1);
  },
);

t.test('chunked bodies split anywhere, trailers, repeated headers as Node joins them', async (t) => {
  const s = await server(t, good);
  const p = pool(t);
  const r = await p.request(req(s.port, '/chunked')).done;
  t.equal(r.status, 201);
  t.equal(r.body.toString(), 'hello world');
  t.equal(r.headers['link'], '<a>;rel="up", <b>;rel="index"', 'Link headers joined');
  t.equal(r.headers['content-type'], 'text/plain', 'a single-valued header: the first wins');
  await p.request(req(s.port, '/json')).done;
  t.equal(s.accepted, 1, 'the connection is reused after a chunked answer');
});

t.test('an informational answer is skipped; 204 has no body', async (t) => {
  const s = await server(t, good);
  const p = pool(t);
  const r = await p.request(req(s.port, '/continue')).done;
  t.equal(r.status, 204);
  t.equal(r.headers['replay-nonce'], 'n1');
  t.equal(r.body.length, 0);
});

t.test(
  'Connection: close and bodies until close are read whole and the connection is not reused',
  async (t) => {
    const s = await server(t, good);
    const p = pool(t);
    t.equal((await p.request(req(s.port, '/close')).done).body.toString(), 'hi');
    t.equal((await p.request(req(s.port, '/until-close')).done).body.toString(), 'all of it');
    t.equal((await p.request(req(s.port, '/json')).done).status, 200);
    t.equal(s.accepted, 3, 'a new connection after each closing answer');
  },
);

t.test('bodies past the bound, garbage and bad header values end the request', async (t) => {
  const s = await server(t, good);
  const p = pool(t);
  await t.rejects(p.request(req(s.port, '/big-length')).done, { message: 'too large' }, 'by Content-Length');
  await t.rejects(p.request(req(s.port, '/big-chunked')).done, { message: 'too large' }, 'by chunks');
  await t.rejects(p.request(req(s.port, '/garbage')).done, { message: /not an HTTP/ });
  const before = s.requests.length;
  await t.rejects(p.request(req(s.port, '/json', { headers: { 'X-A': 'b\r\nX-Injected: 1' } })).done, {
    message: /invalid character/,
  });
  t.equal(s.requests.length, before, 'nothing sent');
});

t.test(
  'TLS is verified as https does: the chain against the context, the name against the host',
  async (t) => {
    const s = await server(t, good);
    await t.rejects(pool(t, other.caPem).request(req(s.port, '/json')).done, {
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
    // The certificate names 127.0.0.1 only; the lookup sends "localhost" there.
    await t.rejects(pool(t).request(req(s.port, '/json', { hostname: 'localhost' })).done, {
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    t.equal(s.requests.length, 0, 'no request reached the server');
  },
);

t.test(
  'a connection the server closed while idle is not used again; destroy ends a request at once',
  async (t) => {
    const s = await server(t, good);
    const p = pool(t);
    await p.request(req(s.port, '/json')).done;
    p.closeIdle();
    t.equal((await p.request(req(s.port, '/json')).done).status, 200);
    t.equal(s.accepted, 2, 'a fresh connection after the idle one closed');
    const r = p.request(req(s.port, '/until-close'));
    r.destroy(new Error('cut'));
    await t.rejects(r.done, { message: 'cut' });
  },
);
