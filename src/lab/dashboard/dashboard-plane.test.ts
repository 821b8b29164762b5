/**
 * The dashboard side of the control plane over a real HTTPS socket (the
 * session cookie is Secure, so only TLS shows it): the certificate verifies
 * for the lab's name and 127.0.0.1 against the root alone; the page and its
 * files under a strict CSP; login with the admin password or the token; the
 * cookie's attributes; CSRF on changes; the login throttle; logout; and the
 * same routes refusing a login over plain HTTP. A stand-in Lab answers the
 * calls these routes make (the real lab: test/e2e/lab-dashboard.test.ts).
 */
import t from 'tap';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { SystemClock } from '../../lib/clock.js';
import { createRootCa } from '../../pki/issued.js';
import { ControlPlane } from '../control-plane.js';
import type { Lab } from '../lab.js';
import { LabEventBus } from '../lab-events.js';
import { openSse } from '../sse-test-client.js';
import { planeCredentials } from './plane-tls.js';
import type { DashboardMessage } from './stream.js';

const TOKEN = 'tok-0123456789abcdef';
const PASSWORD = 'Lab-adm1n-pw';
const faultCalls: unknown[][] = [];
const fleetCalls: unknown[][] = [];
const events = new LabEventBus();
for (let i = 0; i < 7; i++) events.publish({ boxId: 1, hostname: 'gigavue-1', type: 'box-stopped' });
/** The faults turned on, as the stand-in lab lists them. */
const faultsOn: { boxId: number; fault: string }[] = [];
const lab = {
  fleet: (op: string, ids: number[], _r: unknown, o: { settings?: (id: number) => unknown }) => {
    fleetCalls.push([op, ids, o.settings?.(ids[0]!)]);
    return Promise.resolve([]);
  },
  adminPassword: PASSWORD,
  clock: new SystemClock(),
  topology: { lab: 'lab' },
  runner: {
    ids: () => [1, 2],
    has: (n: number) => n === 1 || n === 2,
    info: (n: number) => ({
      spec: { model: 'GigaVUE-HC2', cryptoMode: 'classic', firmware: '6.5.00' },
      boxId: n,
    }),
    box: () => undefined,
    clock: () => ({ offset: 0 }),
    addressing: { mode: 'addresses' },
  },
  boxStatus: (n: number) => ({
    boxId: n,
    hostname: `gigavue-${n}`,
    address: `127.0.0.10${n}`,
    ports: { https: 443 },
    state: 'stopped',
    certificate: { status: 'unknown', serial: null, expires: null },
  }),
  faults: {
    list: (ids: number[]) => faultsOn.filter((f) => ids.includes(f.boxId)).map((f) => ({ ...f, on: true })),
  },
  events,
  setFault: (...args: unknown[]) => {
    faultCalls.push(args);
    return [];
  },
} as unknown as Lab;

const creds = await planeCredentials('lab.lab.test', undefined, Date.now());
const plane = new ControlPlane(lab, TOKEN, () => undefined);
const httpUrl = await plane.listen();
const port = await plane.listenHttps(creds);
t.teardown(() => plane.close());
const root = creds.ownRootPem!;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test answers are read loosely
}

function call(
  method: string,
  path: string,
  o: {
    headers?: Record<string, string>;
    body?: unknown;
    ca?: string;
    servername?: string;
    http?: boolean;
  } = {},
): Promise<Answer> {
  const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
  const headers = { ...(payload ? { 'content-type': 'application/json' } : {}), ...o.headers };
  return new Promise((resolve, reject) => {
    const onRes = (res: import('node:http').IncomingMessage) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          text,
          json: /json/.test(String(res.headers['content-type'])) && text ? JSON.parse(text) : undefined,
        }),
      );
    };
    const req = o.http
      ? httpRequest(`${httpUrl}${path}`, { method, headers }, onRes)
      : httpsRequest(
          {
            host: '127.0.0.1',
            port,
            path,
            method,
            headers,
            ca: o.ca ?? root,
            servername: o.servername ?? 'lab.lab.test',
            agent: false,
          },
          onRes,
        );
    req.once('error', reject);
    req.end(payload);
  });
}

const cookieOf = (a: Answer) => String(a.headers['set-cookie']).split(';')[0]!;

t.test('the certificate verifies for the lab name and for 127.0.0.1 with only the root', async (t) => {
  t.equal((await call('GET', '/')).status, 200, 'by name (SNI lab.lab.test)');
  t.equal((await call('GET', '/', { servername: '' })).status, 200, 'by address (IP SAN)');
  const stranger = createRootCa({
    key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
    commonName: 'gvos-sim lab root for lab.lab.test',
    organization: 'gvos-sim lab',
    notBeforeMs: Date.now(),
    validDays: 1,
  });
  await t.rejects(call('GET', '/', { ca: stranger }), /self-signed|unable to verify|certificate/i);
  await t.rejects(call('GET', '/', { servername: 'other.lab.test' }), /altnames|Hostname/i);
});

t.test('the page and its files, under the same strict CSP as a box GUI', async (t) => {
  const page = await call('GET', '/');
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.text, '<script type="module" src="/dashboard/dashboard.js"></script>');
  t.match(String(page.headers['content-security-policy']), /script-src 'self'/);
  t.notMatch(String(page.headers['content-security-policy']), /unsafe/);
  t.match(String(page.headers['strict-transport-security']), /max-age/);
  t.match((await call('GET', '/dashboard/dashboard.js')).headers['content-type'], /^text\/javascript/);
  t.match((await call('GET', '/dashboard/dashboard.css')).headers['content-type'], /^text\/css/);
  t.equal((await call('GET', '/dashboard/nope.js')).status, 404);
});

t.test(
  'login with the admin password: a Secure HttpOnly SameSite=Strict cookie, CSRF on changes',
  async (t) => {
    t.equal((await call('GET', '/v1/dashboard/boxes')).status, 401, 'nothing without a session');
    const bad = await call('POST', '/v1/session', { body: { user: 'admin', password: 'wrong' } });
    t.equal(bad.status, 401);
    t.notOk(bad.headers['set-cookie'], 'no cookie for a wrong password');
    const ok = await call('POST', '/v1/session', { body: { user: 'admin', password: PASSWORD } });
    t.equal(ok.status, 200);
    const setCookie = String(ok.headers['set-cookie']);
    t.match(setCookie, /^__Host-gvos-lab=[A-Za-z0-9_-]{43};/);
    for (const attr of ['Secure', 'HttpOnly', 'SameSite=Strict', 'Path=/']) t.match(setCookie, attr);
    t.notMatch(setCookie, /Domain=/i);
    t.equal(ok.json.user, 'admin');
    t.notMatch(JSON.stringify(ok.json), cookieOf(ok).split('=')[1]!, 'the session id is not in the body');
    const cookie = cookieOf(ok);
    const rows = await call('GET', '/v1/dashboard/boxes', { headers: { cookie } });
    t.equal(rows.status, 200);
    t.equal(rows.headers['x-lab-event-seq'], '7', 'the rows say which event they include');
    t.same(
      rows.json.map((r: { boxId: number; model: string; guiUrl: string }) => [r.boxId, r.model, r.guiUrl]),
      [
        [1, 'GigaVUE-HC2', 'https://127.0.0.101/'],
        [2, 'GigaVUE-HC2', 'https://127.0.0.102/'],
      ],
    );
    t.same(
      (await call('GET', '/v1/dashboard/boxes?ids=2,7', { headers: { cookie } })).json.map(
        (r: { boxId: number }) => r.boxId,
      ),
      [2],
      'ids: only those, unknown ones left out',
    );
    const change = { fault: 'acme-slow', on: true, boxes: [2] };
    const noCsrf = await call('POST', '/v1/faults', { headers: { cookie }, body: change });
    t.equal(noCsrf.status, 403, 'a change without the CSRF header is refused');
    t.equal(faultCalls.length, 0);
    const wrongCsrf = await call('POST', '/v1/faults', {
      headers: { cookie, 'x-csrf-token': 'x'.repeat(43) },
      body: change,
    });
    t.equal(wrongCsrf.status, 403);
    const withCsrf = await call('POST', '/v1/faults', {
      headers: { cookie, 'x-csrf-token': ok.json.csrfToken },
      body: change,
    });
    t.equal(withCsrf.status, 200);
    t.same(faultCalls, [['acme-slow', true, [2], undefined]]);
    const again = await call('GET', '/v1/session', { headers: { cookie } });
    t.equal(again.json.csrfToken, ok.json.csrfToken, 'a reloaded page gets its CSRF token back');
    t.equal(
      (await call('DELETE', '/v1/session', { headers: { cookie, 'x-csrf-token': ok.json.csrfToken } }))
        .status,
      204,
    );
    t.equal((await call('GET', '/v1/dashboard/boxes', { headers: { cookie } })).status, 401, 'logged out');
  },
);

t.test('login with the token; the bearer token needs no CSRF header', async (t) => {
  const ok = await call('POST', '/v1/session', { body: { token: TOKEN } });
  t.equal(ok.status, 200);
  t.equal(ok.json.user, 'token');
  const bearer = await call('POST', '/v1/faults', {
    headers: { authorization: `Bearer ${TOKEN}` },
    body: { fault: 'acme-slow', on: false, boxes: [1] },
  });
  t.equal(bearer.status, 200);
});

t.test(
  "the fleet ACME form's fields reach the fleet operation (the manager's acmeServerUrl, algorithm, renewDays)",
  async (t) => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const body = {
      boxes: [2],
      acmeServerUrl: 'https://ca.example/dir',
      algorithm: 'secp384r1',
      renewDays: 20,
    };
    const r = await call('POST', '/v1/acme/issue', { headers: auth, body });
    t.equal(r.status, 200);
    t.same(fleetCalls.pop(), [
      'issue',
      [2],
      { directoryUrl: 'https://ca.example/dir', keyAlgorithm: 'secp384r1', renewDays: 20 },
    ]);
    await call('POST', '/v1/acme/renew', { headers: auth, body: { boxes: 'all' } });
    t.same(fleetCalls.pop(), ['renew', [1, 2], {}], 'absent: the lab defaults');
    const bad = await call('POST', '/v1/acme/issue', { headers: auth, body: { algorithm: 'ec-prime256v1' } });
    t.equal(bad.status, 400, "the CLI's algorithm words only");
    t.equal((await call('POST', '/v1/acme/issue', { headers: auth, body: { renewDays: 0 } })).status, 400);
  },
);

/** Open GET /v1/dashboard/stream; the parsed `dashboard` messages so far, and close. */
async function openDashboardStream(cookie: string) {
  const s = await openSse((onRes) =>
    httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/dashboard/stream',
        headers: { accept: 'text/event-stream', ...(cookie ? { cookie } : {}) },
        ca: root,
        servername: 'lab.lab.test',
        agent: false,
      },
      onRes,
    ),
  );
  const messages = (): DashboardMessage[] =>
    s
      .text()
      .split('\n\n')
      .filter((f) => f.includes('\nevent: dashboard\n'))
      .map(
        (f) =>
          JSON.parse(
            f
              .split('\n')
              .find((l) => l.startsWith('data: '))!
              .slice(6),
          ) as DashboardMessage,
      );
  return { ...s, messages };
}

const until = async (what: string, cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

t.test(
  'the live stream: the whole fleet, then only what changed; a session needed; nothing left',
  async (t) => {
    t.equal((await openDashboardStream('')).status, 401, 'no stream without a session');
    const ok = await call('POST', '/v1/session', { body: { user: 'admin', password: PASSWORD } });
    const before = events.subscriberCount;
    const s = await openDashboardStream(cookieOf(ok));
    t.equal(s.status, 200);
    t.match(s.type, /^text\/event-stream/);
    await until('the first message', () => s.messages().length === 1);
    const first = s.messages()[0]!;
    t.match(first, { whole: true, seq: events.lastSeq });
    t.same(
      first.rows.map((r) => [r.boxId, r.hostname, r.faults]),
      [
        [1, 'gigavue-1', []],
        [2, 'gigavue-2', []],
      ],
    );
    t.equal(events.subscriberCount, before + 1);
    faultsOn.push({ boxId: 2, fault: 'acme-slow' });
    const e = events.publish({
      boxId: 2,
      hostname: 'gigavue-2',
      type: 'fault',
      fault: 'acme-slow',
      on: true,
    });
    await until('the patch', () => s.messages().length === 2);
    t.strictSame(
      { ...s.messages()[1], events: s.messages()[1]!.events.map((x) => x.seq) },
      {
        seq: e.seq,
        whole: false,
        rows: [{ boxId: 2, faults: ['acme-slow'] }],
        removed: [],
        events: [e.seq],
        skipped: 0,
      },
      "box 2's faults only, with the event for the feed",
    );
    s.close();
    await until('the unsubscribe', () => events.subscriberCount === before);
    t.equal(events.subscriberCount, before);
    faultsOn.length = 0;
  },
);

t.test('no login over plain HTTP; wrong passwords lock the source out', async (t) => {
  const plain = await call('POST', '/v1/session', {
    http: true,
    body: { user: 'admin', password: PASSWORD },
  });
  t.equal(plain.status, 400);
  t.match(plain.json.detail, /HTTPS/);
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++)
    statuses.push((await call('POST', '/v1/session', { body: { password: `wrong-${i}` } })).status);
  t.same(statuses.slice(0, 4), [401, 401, 401, 401]);
  t.equal(statuses[5], 429, 'locked out after 5 failures');
  const right = await call('POST', '/v1/session', { body: { password: PASSWORD } });
  t.equal(right.status, 429, 'even the right password waits out the lockout');
});
