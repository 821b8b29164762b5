/**
 * The control plane's HTTP contract, without a lab's peers: a stand-in Lab
 * answers the few calls these routes make (the real lab behind the plane is
 * test/e2e/lab-control-plane.test.ts). Socketless (light-my-request) for the
 * routes, the document, the token and validation; a real socket for the
 * trickled bodies, since only a socket can trickle.
 */
import t from 'tap';
import { connect } from 'node:net';
import { SystemClock } from '../lib/clock.js';
import inject from 'light-my-request';
import { Validator } from '@seriousme/openapi-schema-validator';
import { ControlPlane, controlPlaneDocument, createControlPlaneApp, ROUTES } from './control-plane.js';
import type { Lab, LabBoxStatus } from './lab.js';
import { statusSummary, statusTable } from './lab-tables.js';
import { LabEventBus } from './lab-events.js';
import { formatBoxList, parseLabArgs } from './lab-args.js';
import { get } from 'node:http';
import { openSse } from './sse-test-client.js';
import { compileSchema, type JsonSchema } from '../lib/json-schema.js';
import { ROUTES as BOX_ROUTES } from '../web/api/routes.js';

const TOKEN = 'tok-0123456789abcdef';
const faultCalls: unknown[][] = [];
const events = new LabEventBus();
/** Box 1 with a certificate, box 2 without: the rows the stand-in lab's status() gives. */
const statusRow = (boxId: number): LabBoxStatus => ({
  boxId,
  hostname: `gigavue-${boxId}`,
  address: `127.0.0.${100 + boxId}`,
  ports: { ssh: 22, cli: 23, https: 443, http: 80, snmp: 161 },
  state: 'running',
  certificate:
    boxId === 1
      ? {
          status: 'valid',
          serial: '0A1B2C3D',
          expires: '2027-03-05T10:00:00.000Z',
          domain: 'gigavue-1.lab.test',
          lastRequest: { type: 'Issue', status: 'Success', at: '2026-12-05T10:00:01.000Z' },
          nextRenewal: '2027-02-03T10:00:00.000Z',
        }
      : { status: 'none', serial: null, expires: null, lastRequest: null, nextRenewal: null },
  clockOffsetMs: 0,
});
const inventoryRows = [
  { boxId: 1, hostname: 'gigavue-1' },
  { boxId: 2, hostname: 'gigavue-2' },
];
const lab = {
  events,
  adminPassword: 'lab-admin-pw',
  clock: new SystemClock(),
  status: (ids: number[] = [1, 2]) => ids.map(statusRow),
  inventory: () => inventoryRows,
  runner: { ids: () => [1, 2], has: (n: number) => n === 1 || n === 2, addressing: { mode: 'standard' } },
  faults: { list: () => [] },
  setFault: (...args: unknown[]) => {
    faultCalls.push(args);
    return [];
  },
  addBox: () => {
    throw new Error('box-id 2 is taken');
  },
} as unknown as Lab;
const handler = createControlPlaneApp(lab, TOKEN, () => undefined).callback();

async function call(method: string, url: string, o: { auth?: string; body?: string; type?: string } = {}) {
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- koa's callback() catches its own errors
  const res = await inject(handler, {
    method: method as 'GET',
    url,
    headers: {
      ...(o.auth !== undefined ? { authorization: o.auth } : { authorization: `Bearer ${TOKEN}` }),
      ...(o.type ? { 'content-type': o.type } : {}),
    },
    ...(o.body !== undefined ? { payload: o.body } : {}),
  });
  return {
    status: res.statusCode,
    headers: res.headers,
    text: res.body,
    json: res.body && /json/.test(String(res.headers['content-type'])) ? JSON.parse(res.body) : res.body,
  };
}

t.test('the document: served without a token, valid OpenAPI 3.1, one operation per route', async (t) => {
  const r = await call('GET', '/v1/openapi.json', { auth: '' });
  t.equal(r.status, 200);
  t.strictSame(r.json, JSON.parse(JSON.stringify(controlPlaneDocument())));
  const v = new Validator();
  const res = await v.validate(r.json);
  t.same(res.errors ?? [], []);
  t.equal(res.valid, true);
  const ops = Object.values(r.json.paths as Record<string, object>).flatMap((p) => Object.keys(p));
  t.equal(ops.length, ROUTES.length);
});

// mountRoutes checks each body schema's keywords at once but leaves Ajv's compile to the
// route's first request: here every one is compiled, the box API's and the plane's (FM API too).
t.test("every route's body schema compiles and refuses a null body", async (t) => {
  for (const [api, routes] of [
    ['box API', BOX_ROUTES],
    ['control plane', ROUTES],
  ] as const) {
    const bodies = routes.filter((r) => r.body);
    t.ok(bodies.length >= 5, `${api}: ${bodies.length} routes take a body`);
    for (const r of bodies) {
      const validate = compileSchema(r.body as JsonSchema, `${r.method} ${r.path}`);
      t.ok(validate(null).length > 0, `${api}: ${r.method.toUpperCase()} ${r.path}`);
    }
  }
});

t.test('GET /v1 lists every route', async (t) => {
  const r = await call('GET', '/v1');
  t.equal(r.status, 200);
  t.equal(r.json.length, ROUTES.length);
  t.match(r.json, [{ method: 'GET', path: '/v1/openapi.json' }]);
  t.ok(
    r.json.some(
      (x: { method: string; path: string }) => x.method === 'POST' && x.path === '/v1/boxes/{id}/kill',
    ),
  );
});

t.test(
  'the token or Basic admin: the scheme in any case (RFC 7235), wrong or missing credentials are a 401 problem',
  async (t) => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER'])
      t.equal((await call('GET', '/v1/boxes', { auth: `${scheme} ${TOKEN}` })).status, 200, scheme);
    const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
    const b64 = Buffer.from('admin:lab-admin-pw').toString('base64');
    for (const scheme of ['Basic', 'BASIC'])
      t.equal((await call('GET', '/v1/boxes', { auth: `${scheme} ${b64}` })).status, 200, `${scheme} admin`);
    for (const auth of [
      '',
      `Bearer ${TOKEN}x`,
      `Basic ${TOKEN}`,
      'Bearer',
      `Bearer ${TOKEN} extra`,
      basic('admin:lab-admin-pwx'),
      basic('operator:lab-admin-pw'),
      basic(':lab-admin-pw'),
      basic('admin'),
    ]) {
      const r = await call('GET', '/v1/boxes', { auth });
      t.equal(r.status, 401, JSON.stringify(auth));
      t.match(r.headers['content-type'], /^application\/problem\+json/);
      t.match(r.json, { code: 'unauthenticated', detail: /bearer token or Basic credentials/ });
      t.equal(
        r.headers['www-authenticate'],
        'Bearer realm="gvos-sim-lab", Basic realm="gvos-sim-lab", charset="UTF-8"',
      );
    }
  },
);

t.test(
  "GET /v1/boxes: ?boxes selects; ?format=table is lab status's text (the table of the same rows, then the counts), summary the counts alone",
  async (t) => {
    const all = await call('GET', '/v1/boxes');
    t.same(all.json, [statusRow(1), statusRow(2)]);
    t.same((await call('GET', '/v1/boxes?boxes=2')).json, [statusRow(2)], '?boxes=2: box 2 only');
    t.same((await call('GET', '/v1/boxes?boxes=1-2&format=json')).json, all.json);
    const table = await call('GET', '/v1/boxes?format=table');
    t.equal(table.status, 200);
    t.match(table.headers['content-type'], /^text\/plain/);
    const rows = all.json as LabBoxStatus[];
    t.equal(table.json, `${statusTable(rows)}\n\n${statusSummary(rows)}\n`, 'the table lab-tables lays out');
    t.match(table.json, /^1 +gigavue-1 +127\.0\.0\.101 .* valid +0A1B2C3D +2027-03-05 10:00:00Z /m);
    t.match(table.json, /\n\n2 boxes: 2 running; certificates: 1 none, 1 valid\n$/);
    t.equal(
      (await call('GET', '/v1/boxes?format=summary')).json,
      '2 boxes: 2 running; certificates: 1 none, 1 valid\n',
    );
    t.equal(
      (await call('GET', '/v1/boxes?format=summary&boxes=1')).json,
      '1 box: 1 running; certificates: 1 valid\n',
    );
    t.match(await call('GET', '/v1/boxes?boxes=7'), {
      status: 404,
      json: { code: 'not-found', detail: 'no box with box-id 7 (box-ids: 1-2)' },
    });
    t.match(await call('GET', '/v1/boxes?boxes=1-x'), { status: 400, json: { code: 'bad-input' } });
    t.match(await call('GET', `/v1/boxes?boxes=${'1,'.repeat(600)}1`), {
      status: 400,
      json: { code: 'bad-input', detail: /^boxes takes 1 to 1024 characters/ },
    });
    t.match(await call('GET', '/v1/boxes?format=xml'), {
      status: 400,
      json: { code: 'bad-input', detail: 'format is json, table or summary, got "xml".' },
    });
  },
);

t.test('GET /v1/inventory?pretty=true: the JSON lab inventory prints, indented by the plane', async (t) => {
  const compact = await call('GET', '/v1/inventory');
  t.same(compact.json, inventoryRows);
  const pretty = await call('GET', '/v1/inventory?pretty=true');
  t.match(pretty.headers['content-type'], /^application\/json/);
  t.same(pretty.json, inventoryRows, 'the same rows');
  t.equal(
    pretty.text,
    JSON.stringify(inventoryRows, null, 2) + '\n',
    'indented by two spaces, one newline at the end',
  );
});

t.test('lab --box 1-65535 reaches the plane as a range, under its body limit', async (t) => {
  const sent = (box: string) => {
    const req = parseLabArgs(['fault', 'snmp-muted', 'on', '--box', box]);
    if (req.verb !== 'fault') throw new Error('not a fault request');
    // What lab-command sends for these boxes.
    return JSON.stringify({
      fault: 'snmp-muted',
      on: true,
      ...(req.boxes ? { boxes: formatBoxList(req.boxes) } : {}),
    });
  };
  t.match(await call('POST', '/v1/faults', { body: sent('1-65535') }), {
    status: 404,
    json: { code: 'not-found', detail: /^no box with box-id 3 / },
  });
  t.equal((await call('POST', '/v1/faults', { body: sent('2,1') })).status, 200);
  t.same(faultCalls.at(-1), ['snmp-muted', true, [1, 2], undefined], 'the range names the same boxes');
  t.equal((await call('POST', '/v1/faults', { body: sent('all') })).status, 200);
  t.same(formatBoxList([7, 1, 2, 3, 5, 6, 3]), '1-3,5-7');
  t.match(await call('POST', '/v1/faults', { body: '{"fault":"snmp-muted","on":true,"boxes":"1-x"}' }), {
    status: 400,
    json: { code: 'bad-input', detail: 'boxes takes box-ids like "1,3,5", "2-4" or "all", got "1-x".' },
  });
});

t.test(
  'bodies: validated against the table; no Content-Type is read as JSON; errors are problems',
  async (t) => {
    const bad = await call('POST', '/v1/faults', { body: '{"fault":"nope","on":true}' });
    t.match(bad, {
      status: 400,
      json: {
        code: 'bad-input',
        detail:
          'Field "fault" must be one of acme-unreachable, acme-slow, acme-drop, challenge-wrong, snmp-muted.',
      },
    });
    t.match(await call('POST', '/v1/faults', { body: '{"fault":"snmp-muted","on":true,"boxes":[]}' }), {
      status: 400,
      json: { detail: 'Field "boxes" has too few items: at least 1.' },
    });
    t.match(await call('POST', '/v1/faults', { body: '{"fault":"snmp-muted","on":true,"boxes":[7]}' }), {
      status: 404,
      json: { code: 'not-found', detail: 'no box with box-id 7 (box-ids: 1-2)' },
    });
    const ok = await call('POST', '/v1/faults', { body: '{"fault":"snmp-muted","on":true,"boxes":[2]}' });
    t.equal(ok.status, 200);
    t.same(faultCalls.at(-1), ['snmp-muted', true, [2], undefined]);
    t.match(await call('POST', '/v1/faults', { body: '{}', type: 'text/plain' }), { status: 415 });
    t.match(await call('POST', '/v1/boxes', { body: '{"boxId":2}' }), {
      status: 409,
      json: { code: 'conflict', detail: 'box-id 2 is taken' },
    });
    t.match(await call('GET', '/v1/nothing'), { status: 404, json: { code: 'not-found' } });
    t.match(await call('GET', '/v2'), { status: 404, json: { code: 'not-found' } });
    t.match(await call('PUT', '/v1/boxes'), { status: 405, json: { code: 'method-not-allowed' } });
  },
);

/** Send `head` then one body byte every `everyMs`; resolves what the server sent and how many bytes went out. */
function trickle(port: number, head: string, total: number, everyMs: number) {
  return new Promise<{ reply: string; sent: number }>((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let reply = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    s.setEncoding('utf8');
    s.on('data', (d: string) => (reply += d));
    s.on('error', reject);
    s.on('close', () => {
      clearInterval(timer);
      resolve({ reply, sent });
    });
    s.write(head, () => {
      timer = setInterval(() => {
        if (sent >= total) return clearInterval(timer);
        sent++;
        s.write(' ');
      }, everyMs);
    });
  });
}

t.test('a trickled body cannot hold a connection', async (t) => {
  const plane = new ControlPlane(lab, TOKEN, () => undefined, { bodyDeadlineMs: 500 });
  const url = await plane.listen();
  t.teardown(() => plane.close());
  const port = Number(new URL(url).port);
  const head = (auth: string) =>
    `POST /v1/faults HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 200\r\n\r\n`;

  const anon = await trickle(port, head(''), 200, 50);
  t.match(anon.reply, /^HTTP\/1\.1 401 /, 'refused without waiting for the body');
  t.ok(anon.sent < 200, `the server closed the connection after ${anon.sent} of 200 bytes`);

  const slow = await trickle(port, head(`Authorization: bearer ${TOKEN}\r\n`), 200, 50);
  t.match(slow.reply, /^HTTP\/1\.1 400 /);
  t.match(slow.reply, /did not arrive within 0\.5 s/);
  t.ok(slow.sent < 200, `the server closed the connection after ${slow.sent} of 200 bytes`);
});

t.test('GET /v1/events: the kept events after ?since, oldest first; a bad since is a 400', async (t) => {
  const first = events.lastSeq;
  events.publish({ boxId: 1, hostname: 'gigavue-1', type: 'box-killed' });
  events.publish({ boxId: 2, hostname: 'gigavue-2', type: 'fault', fault: 'snmp-muted', on: true });
  const r = await call('GET', `/v1/events?since=${first}`);
  t.equal(r.status, 200);
  t.match(r.json, [
    { seq: first + 1, boxId: 1, type: 'box-killed', time: /^\d{4}-\d\d-\d\dT/ },
    { seq: first + 2, boxId: 2, type: 'fault', fault: 'snmp-muted', on: true },
  ]);
  t.equal(r.json.length, 2);
  t.equal((await call('GET', `/v1/events?since=${first + 2}`)).json.length, 0);
  t.match(await call('GET', '/v1/events?since=-1'), { status: 400, json: { code: 'bad-input' } });
  t.match(await call('GET', '/v1/events', { auth: '' }), { status: 401 });
});

/** Open the SSE stream; resolves the response once its headers arrived, collecting the data lines. */
async function openStream(port: number, headers: Record<string, string>) {
  const s = await openSse((onRes) =>
    get(
      { host: '127.0.0.1', port, path: '/v1/events', headers: { ...headers, accept: 'text/event-stream' } },
      onRes,
    ),
  );
  return { ...s, data: s.text };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

t.test(
  'the SSE stream: backlog after Last-Event-ID, then live events; no listener left after the client goes',
  async (t) => {
    const plane = new ControlPlane(lab, TOKEN, () => undefined);
    const port = Number(new URL(await plane.listen()).port);
    t.teardown(() => plane.close());
    const before = events.subscriberCount;
    const missed = events.publish({ boxId: 1, hostname: 'gigavue-1', type: 'box-stopped' });
    const s = await openStream(port, {
      authorization: `Bearer ${TOKEN}`,
      'last-event-id': String(missed.seq - 1),
    });
    t.equal(s.status, 200);
    t.match(s.type, /^text\/event-stream/);
    await until('the backlog', () => s.data().includes(`id: ${missed.seq}\n`));
    t.equal(events.subscriberCount, before + 1);
    const live = events.publish({
      boxId: 2,
      hostname: 'gigavue-2',
      type: 'box-started',
      firmware: '6.10.00',
    });
    await until('the live event', () => s.data().includes(`id: ${live.seq}\n`));
    const frames = s
      .data()
      .split('\n\n')
      .filter((f) => f.startsWith('id: '))
      .map((f) => JSON.parse(f.split('\n')[1]!.replace(/^data: /, '')) as { seq: number; type: string });
    t.strictSame(
      frames.map((f) => [f.seq, f.type]),
      [
        [missed.seq, 'box-stopped'],
        [live.seq, 'box-started'],
      ],
      'exactly the events after Last-Event-ID, in order, each once',
    );
    s.close();
    await until('the unsubscribe', () => events.subscriberCount === before);
    t.equal(events.subscriberCount, before);

    const anon = await openStream(port, {});
    t.equal(anon.status, 401);
    anon.close();
  },
);
