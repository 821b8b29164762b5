/**
 * The http port's front (http-front.ts): a validator's http-01 fetch is
 * answered from its first packet with the bytes Node's HTTP server writes
 * for it (same status, headers and body, the Date aside), and every other
 * connection reaches the HTTP server byte for byte, answered as without
 * the front. Real sockets on 127.0.0.1; the reference is the same handler
 * (createHttpHandler) behind a plain Node HTTP server.
 */
import t from 'tap';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Box } from '../device/box.js';
import { ChallengeTokens } from '../device/challenge-tokens.js';
import { challengeAnswer, createHttpHandler } from './app.js';
import { fastChallengeToken, HttpFront } from './http-front.js';

const TOKEN = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
const KEY_AUTHORIZATION = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;
/** What Pebble's VA sends (Go's net/http with keep-alives off). */
const PEBBLE_GET = (token: string) =>
  `GET /.well-known/acme-challenge/${token} HTTP/1.1\r\nHost: box1.lab:5002\r\n` +
  'User-Agent: Go-http-client/1.1\r\nAccept: */*\r\nConnection: close\r\nAccept-Encoding: gzip\r\n\r\n';

const challenges = new ChallengeTokens();
challenges.set(TOKEN, KEY_AUTHORIZATION);
// What the HTTP port's handler reads of a box: its challenges, and its names for the redirect.
const box = {
  challenges,
  address: '127.0.0.1',
  hostname: 'box1',
  webCredentials: () => {
    throw new Error('no certificate in this test');
  },
} as unknown as Box;
const handler = createHttpHandler(
  () => box,
  () => 8443,
);

function httpServer(): HttpServer {
  const s = createHttpServer({ connectionsCheckingInterval: 100 }, handler);
  s.headersTimeout = 1_000;
  s.keepAliveTimeout = 200;
  return s;
}

function listen(s: import('node:net').Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
}

/**
 * Write `packets` (each its own write, 30 ms apart; the later ones after
 * `rest` resolves, when given) and read until the server closes.
 */
function exchange(
  port: number,
  packets: string[],
  o: { endAfter?: boolean; rest?: Promise<unknown> } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(port, '127.0.0.1');
    let got = '';
    c.on('data', (d: Buffer) => (got += d.toString('latin1')));
    c.on('close', () => resolve(got));
    c.on('error', reject);
    c.on('connect', () => {
      c.write(packets[0] ?? '');
      void (o.rest ?? Promise.resolve()).then(() => {
        packets.slice(1).forEach((p, i) => setTimeout(() => c.write(p), 30 * (i + 1)));
        if (o.endAfter) setTimeout(() => c.end(), 30 * packets.length + 300);
      });
    });
  });
}

const withoutDate = (s: string) => s.replace(/\r\nDate: [^\r]+/g, '\r\nDate: -');

const reference = httpServer();
const behind = httpServer();
const front = new HttpFront({ http: behind, answer: (token) => challengeAnswer(box, token) });
let refPort = 0;
let frontPort = 0;
t.before(async () => {
  refPort = await listen(reference);
  frontPort = await listen(front.server);
  behind.emit('listening');
});
t.teardown(() => {
  reference.close();
  reference.closeAllConnections();
  front.server.close();
  front.closeConnections();
  behind.closeAllConnections();
  behind.close();
});

t.test("a validator's fetch: answered by the front, with Node's bytes", async (t) => {
  for (const [what, token, status] of [
    ['a token the box serves', TOKEN, '200 OK'],
    ['a token it does not', 'unknown', '404 Not Found'],
  ] as const) {
    const before = front.fastAnswers;
    const want = await exchange(refPort, [PEBBLE_GET(token)]);
    const got = await exchange(frontPort, [PEBBLE_GET(token)]);
    t.equal(front.fastAnswers, before + 1, `${what}: answered by the front`);
    t.ok(got.startsWith(`HTTP/1.1 ${status}\r\n`), `${what}: ${status}`);
    t.equal(withoutDate(got), withoutDate(want), `${what}: the bytes Node writes`);
    t.match(got, /\r\nDate: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n/, `${what}: a Date as Node's`);
  }
  t.ok((await exchange(frontPort, [PEBBLE_GET(TOKEN)])).endsWith(`\r\n\r\n${KEY_AUTHORIZATION}`));
});

t.test(
  'every other connection reaches the HTTP server whole and is answered as without the front',
  async (t) => {
    const get = (extra: string, line = `GET /.well-known/acme-challenge/${TOKEN} HTTP/1.1`) =>
      `${line}\r\nHost: box1.lab\r\n${extra}\r\n`;
    const cases: [string, string[], { endAfter?: boolean }?][] = [
      ['keep-alive (no Connection: close)', [get('')], { endAfter: true }],
      ['HEAD', [get('Connection: close\r\n', `HEAD /.well-known/acme-challenge/${TOKEN} HTTP/1.1`)]],
      ['a query', [get('Connection: close\r\n', `GET /.well-known/acme-challenge/${TOKEN}?x=1 HTTP/1.1`)]],
      [
        'the head split over two packets',
        [get('Connection: close\r\n').slice(0, 30), get('Connection: close\r\n').slice(30)],
      ],
      ['two requests in one packet', [get('') + get('Connection: close\r\n')]],
      ['a body', [get('Connection: close\r\nContent-Length: 5\r\n') + 'hello']],
      ['no Host', [`GET /.well-known/acme-challenge/${TOKEN} HTTP/1.1\r\nConnection: close\r\n\r\n`]],
      ['a redirect', [get('Connection: close\r\n', 'GET /some/page HTTP/1.1')]],
      ['not HTTP at all', ['\x16\x03\x01 hello\r\n\r\n']],
    ];
    for (const [what, packets, o] of cases) {
      const before = front.fastAnswers;
      const want = await exchange(refPort, packets, o);
      // The rest of a split head only once the HTTP server has the connection: sent earlier, on a
      // busy machine both parts may arrive as one packet (and be answered by the front, rightly).
      const handedOver = new Promise((resolve) => behind.once('connection', resolve));
      const got = await exchange(frontPort, packets, { ...o, rest: handedOver });
      t.equal(front.fastAnswers, before, `${what}: not answered by the front`);
      t.ok(got.length > 0, `${what}: answered`);
      t.equal(withoutDate(got), withoutDate(want), `${what}: the same answer as without the front`);
    }
  },
);

t.test("a silent connection gets the HTTP server's 408 at its headersTimeout", async (t) => {
  // Both wait out the same 1 s headersTimeout: at once, not one after the other.
  const [got, want] = await Promise.all([exchange(frontPort, []), exchange(refPort, [])]);
  t.equal(got, 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
  t.equal(got, want, "Node's own answer to the same");
});

t.test('fastChallengeToken: only the one form Node answers in one way', async (t) => {
  t.equal(fastChallengeToken(PEBBLE_GET(TOKEN)), TOKEN, "Pebble's GET");
  const bad: [string, string][] = [
    ['HTTP/1.0', PEBBLE_GET(TOKEN).replace('HTTP/1.1', 'HTTP/1.0')],
    ['a second Connection', PEBBLE_GET(TOKEN).replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')],
    ['Connection: keep-alive', PEBBLE_GET(TOKEN).replace('Connection: close', 'Connection: keep-alive')],
    ['two Hosts', PEBBLE_GET(TOKEN).replace('\r\n\r\n', '\r\nHost: x\r\n\r\n')],
    ['Transfer-Encoding', PEBBLE_GET(TOKEN).replace('\r\n\r\n', '\r\nTransfer-Encoding: chunked\r\n\r\n')],
    ['a header without a colon', PEBBLE_GET(TOKEN).replace('\r\n\r\n', '\r\nbroken\r\n\r\n')],
    ['a byte beyond ASCII in a value', PEBBLE_GET(TOKEN).replace('Go-http-client', 'Go-\xe9')],
    ['a space before the colon', PEBBLE_GET(TOKEN).replace('Accept:', 'Accept :')],
    ['a token with a dot', PEBBLE_GET('a.b')],
    ['101 headers', PEBBLE_GET(TOKEN).replace('\r\n\r\n', '\r\n' + 'X-a: b\r\n'.repeat(96) + '\r\n')],
    ['bytes after the head', PEBBLE_GET(TOKEN) + 'x'],
  ];
  for (const [what, head] of bad) t.equal(fastChallengeToken(head), undefined, what);
  t.equal(
    fastChallengeToken(PEBBLE_GET(TOKEN).replace('\r\n\r\n', '\r\n' + 'X-a: b\r\n'.repeat(95) + '\r\n')),
    TOKEN,
    '100 headers',
  );
});
