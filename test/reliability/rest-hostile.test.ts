/**
 * Hostile input on the REST API, end to end against a real box process:
 *
 * - every route that reads a body, with malformed JSON, wrong types, the
 *   wrong media type, bytes that are not UTF-8, deep nesting and prototype
 *   keys; every route with odd paths, queries and methods: always a 4xx
 *   problem+json, never a 5xx;
 * - huge bodies (declared or streamed) and huge headers: 413 and 431, at
 *   once, without reading the rest;
 * - slow clients: a ClientHello trickled byte by byte, a TLS handshake left
 *   half done, HTTP headers trickled (slowloris), and (full run) a body
 *   trickled: each connection is cut within its deadline, and meanwhile an
 *   ordinary request is answered at once (no hang).
 *
 * Quick (CI) and full differ only in the slow body (requestTimeout is 30 s):
 * GVOS_FULL=1 adds it.
 */
import t from 'tap';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ROUTES } from '../../src/web/api/router.js';
import type { BoxProcess } from '../harness/box-process.js';
import { FULL, PASSWORD, rest, startBox, type Reply } from './helpers.js';

const box: BoxProcess = await startBox({ args: ['--crypto-mode', 'secure-crypto'] });
t.teardown(() => box.kill());
const HTTPS = box.ready.ports.https;
const HTTP = box.ready.ports.http;

/** A path of `route` with every parameter filled in. */
const pathOf = (path: string, value = 'x') =>
  '/api/v1' + path.replace(/:[A-Za-z]+/g, encodeURIComponent(value));

function isProblem4xx(r: Reply): string | undefined {
  if (r.status < 400 || r.status >= 500) return `status ${r.status}`;
  if (!/^application\/problem\+json/.test(String(r.headers['content-type'])) && r.status !== 431)
    return `content-type ${r.headers['content-type']}`;
  return undefined;
}

const BAD_BODIES: { name: string; raw: string | Buffer; contentType?: string }[] = [
  { name: 'truncated object', raw: '{"domain": "a' },
  { name: 'lone brace', raw: '{' },
  { name: 'null', raw: 'null' },
  { name: 'array', raw: '[]' },
  { name: 'string', raw: '"x"' },
  { name: 'number', raw: '1e999999' },
  { name: 'true', raw: 'true' },
  { name: 'trailing garbage', raw: '{} xx' },
  { name: 'single quotes', raw: "{'a': 1}" },
  { name: 'comments', raw: '{/* c */}' },
  { name: 'BOM', raw: '\ufeff{}' },
  { name: 'not UTF-8', raw: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]) },
  { name: 'NUL bytes', raw: '{"name":"a\u0000b","pem":"x"}' },
  { name: 'deep arrays', raw: '['.repeat(60_000) + ']'.repeat(60_000) },
  { name: 'deep objects', raw: '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000) },
  { name: '__proto__ key', raw: '{"__proto__":{"role":"admin"},"name":"x"}' },
  { name: 'constructor key', raw: '{"constructor":{"prototype":{"x":1}}}' },
  {
    name: 'wrong types',
    raw: '{"name":1,"pem":[],"domain":{},"acmeServerUrl":true,"renewDays":"7","mode":null,"username":5,"password":{}}',
  },
  { name: 'huge number', raw: '{"renewDays":1e308,"port":-1e308,"ratePerSec":NaN}' },
  { name: 'many keys', raw: '{' + Array.from({ length: 5000 }, (_, i) => `"k${i}":${i}`).join(',') + '}' },
  { name: 'duplicate keys', raw: '{"name":"a","name":"b","name":{}}' },
  { name: 'text/plain', raw: '{}', contentType: 'text/plain' },
  { name: 'form', raw: 'a=1&b=2', contentType: 'application/x-www-form-urlencoded' },
  { name: 'weird media type', raw: '{}', contentType: 'application/json; charset=ebcdic; x="' },
  { name: 'no media type', raw: '{}', contentType: '' },
];

t.test('malformed and wrongly typed bodies on every route: 4xx problem+json, never 5xx', async (t) => {
  // A session token: HTTP Basic would run a password check (scrypt) for each of these requests.
  const login = await rest(HTTPS, 'POST', '/api/v1/login', {
    auth: null,
    body: { username: 'admin', password: PASSWORD },
  });
  const bearer = { auth: null, headers: { Authorization: `Bearer ${JSON.parse(login.text).token}` } };
  const bad: string[] = [];
  let n = 0;
  for (const r of ROUTES) {
    if (r.method === 'get' || r.path === '/logout') continue;
    for (const b of BAD_BODIES) {
      let reply: Reply;
      try {
        reply = await rest(HTTPS, r.method.toUpperCase(), pathOf(r.path), {
          ...bearer,
          raw: b.raw,
          contentType: b.contentType ?? 'application/json',
        });
      } catch (e) {
        bad.push(`${r.method.toUpperCase()} ${r.path} with ${b.name}: ${(e as Error).message}`);
        continue;
      }
      n++;
      const why = isProblem4xx(reply);
      // An empty object (after a BOM, or under an odd charset) is a valid request where the body requires
      // no field: PUT /snmp or PUT /snmp/users/:name with {} change nothing or add a user with no keys.
      const emptyIsValid =
        !(r.body as { required?: string[] } | undefined)?.required?.length &&
        String(b.raw).replace(/^\ufeff/, '') === '{}' &&
        reply.status < 300;
      if (why && !emptyIsValid)
        bad.push(`${r.method.toUpperCase()} ${r.path} with ${b.name}: ${why} ${reply.text.slice(0, 200)}`);
    }
  }
  t.same(bad, [], `${n} requests`);
});

t.test('odd paths, queries and methods: 4xx, never 5xx', async (t) => {
  const cases: [string, string][] = [
    ['GET', '/api/v1/certificates/%'],
    ['GET', '/api/v1/certificates/%E0%A4%A'],
    ['GET', '/api/v1/certificates/%00'],
    ['GET', '/api/v1/certificates/' + 'a'.repeat(8000)],
    ['GET', '/api/v1/certificates/__proto__'],
    ['GET', '/api/v1/certificates/constructor'],
    ['DELETE', '/api/v1/certificates/default-cert'],
    ['DELETE', '/api/v1/snmp/targets/127.0.0.1?port=abc'],
    ['DELETE', '/api/v1/snmp/targets/127.0.0.1?port=1&port=2'],
    ['GET', '/api/v1/acme?x=1'],
    ['GET', '/api/v1/acme?__proto__[x]=1'],
    ['GET', '/api/v1/../../../etc/passwd'],
    ['GET', '/api/v1//system'],
    ['PROPFIND', '/api/v1/system'],
    ['TRACE', '/api/v1/system'],
    ['PATCH', '/api/v1/system'],
    ['DELETE', '/api/v1'],
    ['GET', '/api/v2/system'],
    ['GET', '/api/v1/' + '%2e%2e/'.repeat(50)],
  ];
  const bad: string[] = [];
  for (const [method, path] of cases) {
    const r = await rest(HTTPS, method, path);
    if (r.status >= 500 || r.status < 400)
      bad.push(`${method} ${path.slice(0, 60)}: ${r.status} ${r.text.slice(0, 150)}`);
  }
  t.same(bad, []);
  const noAuth = await rest(HTTPS, 'GET', '/api/v1/system', { auth: null });
  t.equal(noAuth.status, 401, 'no credentials: 401');
  const garbled = await rest(HTTPS, 'GET', '/api/v1/system', {
    auth: null,
    headers: { Authorization: 'Basic %%%%' },
  });
  t.equal(garbled.status, 401, 'garbled Basic: 401');
  const longAuth = await rest(HTTPS, 'GET', '/api/v1/system', {
    auth: { user: 'admin', password: 'x'.repeat(5000) },
  });
  t.equal(longAuth.status, 401, 'an overlong password: 401');
});

t.test('huge bodies and headers: 413 and 431 at once', async (t) => {
  const auth = Buffer.from(`admin:${PASSWORD}`).toString('base64');
  const declared = await rawHttps(
    `POST /api/v1/certificates HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${auth}\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n`,
  );
  t.match(declared, /^HTTP\/1\.1 413 /, 'a declared 1 GB body: 413 before reading it');
  // The box answers 413 as soon as the limit is passed and closes; a client still sending may
  // see the connection reset before it reads the answer. Either way the upload is cut.
  const streamed = await rest(HTTPS, 'POST', '/api/v1/certificates', {
    raw: Buffer.alloc(2 * 1024 * 1024, 0x20),
  }).then(
    (r) => String(r.status),
    (e: NodeJS.ErrnoException) => e.code ?? e.message,
  );
  t.match(streamed, /^(413|ECONNRESET|EPIPE)$/, `a 2 MiB body is cut (${streamed})`);
  // Node answers 431 and closes at once; the client may see the reset before the answer.
  const headers = await rawHttps(
    `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
  );
  t.match(headers, /^(HTTP\/1\.1 431 |)$|^HTTP\/1\.1 431 /, '64 KiB of headers: 431 or closed, never served');
  const many = await rest(HTTPS, 'GET', '/api/v1/system', {
    headers: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`x-h${i}`, 'v'])),
  });
  t.ok(many.status < 500, `500 headers: ${many.status}`);
  t.equal((await rest(HTTPS, 'GET', '/health', { auth: null })).status, 200, 'the box still answers');
});

/** Send raw bytes over TLS; resolve what came back when the server closes (or resets) or after 10 s. */
function rawHttps(text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: HTTPS, rejectUnauthorized: false }, () => s.write(text));
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (got += d));
    s.on('error', () => resolve(got));
    s.on('close', () => resolve(got));
    setTimeout(() => {
      s.destroy();
      resolve(got);
    }, 10_000).unref();
  });
}

/** How long until the server closes `sock` (ms), or Infinity after `limitMs`. */
function closedWithin(sock: Socket | import('node:tls').TLSSocket, limitMs: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(Infinity), limitMs);
    sock.on('error', () => undefined);
    // Keep reading: a socket that is not read never sees the server's end.
    sock.on('data', () => undefined);
    sock.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}

/** Write `text` one byte every `everyMs` until the socket closes. */
function trickle(sock: Socket | import('node:tls').TLSSocket, text: string | Buffer, everyMs: number): void {
  const bytes = Buffer.from(text);
  let i = 0;
  const timer = setInterval(() => {
    if (sock.destroyed || i >= bytes.length) return clearInterval(timer);
    sock.write(bytes.subarray(i, i + 1));
    i++;
  }, everyMs);
  timer.unref();
}

/** A real ClientHello, captured from Node's own TLS client. */
async function clientHello(): Promise<Buffer> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const srv = createServer((s) =>
      s.once('data', (d: Buffer) => {
        s.destroy();
        srv.close();
        resolve(d);
      }),
    );
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }).on('error', () => undefined);
    });
  });
}

t.test('slow clients are cut off within their deadlines, and others are served meanwhile', async (t) => {
  const hello = await clientHello();
  const limit = 25_000;
  const open = (port: number) =>
    new Promise<Socket>((resolve, reject) => {
      const s = netConnect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });

  // 1. A ClientHello trickled one byte a second: the hello must be complete within 10 s in all.
  const helloSock = await open(HTTPS);
  trickle(helloSock, hello, 1_000);
  const helloCut = closedWithin(helloSock, limit);
  // 2. Connected, hello sent, then silence in the middle of the handshake.
  const stalled = await open(HTTPS);
  stalled.write(hello);
  const stalledCut = closedWithin(stalled, limit);
  // 3. Slowloris: TLS done, HTTP headers one byte a second (headersTimeout 10 s).
  const loris = await new Promise<import('node:tls').TLSSocket>((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: HTTPS, rejectUnauthorized: false }, () => resolve(s));
  });
  trickle(loris, 'GET /api/v1/system HTTP/1.1\r\nHost: x\r\n' + 'X-a: b\r\n'.repeat(100), 1_000);
  const lorisCut = closedWithin(loris, limit);
  // 4. The same on the HTTP port (http-01 and redirect).
  const plain = await open(HTTP);
  trickle(
    plain,
    'GET /.well-known/acme-challenge/x HTTP/1.1\r\nHost: x\r\n' + 'X-a: b\r\n'.repeat(100),
    1_000,
  );
  const plainCut = closedWithin(plain, limit);
  // 5. A connection that says nothing at all.
  const silent = await open(HTTPS);
  const silentCut = closedWithin(silent, limit);

  // Meanwhile an ordinary client gets its answers at once.
  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    const r = await rest(HTTPS, 'GET', '/api/v1/system', { timeoutMs: 3_000 });
    t.equal(r.status, 200, `request ${i + 1} answered in ${Date.now() - t0} ms while slow clients hang on`);
    await new Promise((r) => setTimeout(r, 1_000));
  }

  const [a, b, c, d, e] = await Promise.all([helloCut, stalledCut, lorisCut, plainCut, silentCut]);
  // Each deadline is 10 s; the HTTP ones are checked every second and start with the connection.
  t.ok(a <= 12_000, `a trickled ClientHello is cut (after ${a} ms)`);
  t.ok(b <= 12_000, `a handshake left half done is cut (after ${b} ms)`);
  t.ok(c <= 15_000, `trickled HTTPS headers are cut (after ${c} ms)`);
  t.ok(d <= 15_000, `trickled HTTP headers are cut (after ${d} ms)`);
  t.ok(e <= 12_000, `a silent connection is cut (after ${e} ms)`);
});

t.test(
  'a trickled body is cut at the request deadline',
  { skip: FULL ? false : 'full run only (GVOS_FULL=1): the deadline is 30 s' },
  async (t) => {
    const s = await new Promise<import('node:tls').TLSSocket>((resolve) => {
      const x = tlsConnect({ host: '127.0.0.1', port: HTTPS, rejectUnauthorized: false }, () => resolve(x));
    });
    const auth = Buffer.from(`admin:${PASSWORD}`).toString('base64');
    s.write(
      `POST /api/v1/certificates HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${auth}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`,
    );
    trickle(s, '{"name":"' + 'a'.repeat(99_990), 1_000);
    const cut = await closedWithin(s, 45_000);
    t.ok(cut <= 32_000, `cut after ${cut} ms`);
  },
);
