/**
 * The FM-shaped API's HTTP contract on the control plane, without a lab's
 * peers: a stand-in Lab records what Lab.fleet is asked (the real lab, Pebble
 * and `lab status` are test/e2e/lab-fm-api.test.ts). Entries resolve to the
 * right boxes and manager fields, the template fills what an entry leaves
 * out, a 65535-box request fits the body limit, bad bodies are 400 problems.
 */
import t from 'tap';
import { SystemClock } from '../../lib/clock.js';
import inject from 'light-my-request';
import { createControlPlaneApp } from '../control-plane.js';
import type { FleetIssueSettings, FleetOp, FleetResult, Lab } from '../lab.js';

const TOKEN = 'tok-fm-0123456789';
const PW = 'lab-admin-pw';
const BASE = '/api/v1.3/acme/certificate';

interface FleetCall {
  op: FleetOp;
  boxIds: number[];
  settings: FleetIssueSettings[];
}

function standIn(n: number) {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const calls: FleetCall[] = [];
  let release: () => void = () => undefined;
  const gate = { hold: false };
  const lab = {
    adminPassword: PW,
    clock: new SystemClock(),
    topology: { cluster: 'lab-cluster' },
    runner: {
      ids: () => ids,
      has: (i: number) => i >= 1 && i <= n,
      box: () => undefined,
      info: (i: number) => ({
        address: `127.0.0.${i}`,
        spec: { hostname: `gigavue-${i}` },
        state: 'stopped',
      }),
    },
    boxStatus: (i: number) => ({
      boxId: i,
      hostname: `gigavue-${i}`,
      address: `127.0.0.${i}`,
      certificate: { serial: null },
    }),
    domainFor: (i: number) => `gigavue-${i}.lab.test`,
    fleet: async (
      op: FleetOp,
      boxIds: number[],
      onResult: (r: FleetResult) => void,
      o: { settings: (id: number) => FleetIssueSettings },
    ) => {
      calls.push({ op, boxIds, settings: boxIds.slice(0, 3).map((id) => o.settings(id)) });
      if (gate.hold) await new Promise<void>((r) => (release = r));
      const rows = boxIds.map((id) => ({
        boxId: id,
        hostname: `gigavue-${id}`,
        op,
        result: id === 2 ? 'Failed: the CA said no' : 'Success',
        ok: id !== 2,
        serial: id === 2 ? null : `0${id}AB`,
        expires: null,
        durationMs: 1,
      }));
      for (const r of rows) onResult(r);
      return rows;
    },
  } as unknown as Lab;
  const handler = createControlPlaneApp(lab, TOKEN, () => undefined).callback();
  const call = async (method: string, url: string, body?: unknown, auth = `Bearer ${TOKEN}`) => {
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- koa's callback() catches its own errors
    const res = await inject(handler, {
      method: method as 'GET',
      url,
      headers: { authorization: auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    return {
      status: res.statusCode,
      headers: res.headers,
      json: res.body && /json/.test(String(res.headers['content-type'])) ? JSON.parse(res.body) : res.body,
    };
  };
  return { calls, call, gate, release: () => release() };
}

t.test(
  'GET nodes: certificateInfo, one entry per box; nodes/{clusterId} by hostname, lab name, address',
  async (t) => {
    const { call } = standIn(3);
    const all = await call('GET', `${BASE}/nodes`);
    t.equal(all.status, 200);
    t.same(
      all.json.certificateInfo.map((n: { boxId: number; clusterId: string }) => [n.boxId, n.clusterId]),
      [
        [1, 'gigavue-1'],
        [2, 'gigavue-2'],
        [3, 'gigavue-3'],
      ],
    );
    t.same(all.json.certificateInfo[0], {
      boxId: 1,
      clusterName: 'lab-cluster',
      issuedCert: null,
      lastAcmeRequest: null,
      clusterId: 'gigavue-1',
      deviceAddress: '127.0.0.1',
      serialNumber: null,
    });
    for (const id of ['gigavue-2', 'GIGAVUE-2', 'gigavue-2.lab.test', '127.0.0.2'])
      t.equal((await call('GET', `${BASE}/nodes/${id}`)).json.boxId, 2, id);
    const none = await call('GET', `${BASE}/nodes/gigavue-9`);
    t.equal(none.status, 404);
    t.match(none.json, { code: 'not-found', detail: /clusterId gigavue-9/ });
  },
);

t.test(
  'operations: 202 with a task; entries select boxes and carry the manager fields to Lab.fleet',
  async (t) => {
    const { call, calls, gate, release } = standIn(4);
    gate.hold = true;
    const r = await call('POST', `${BASE}/nodes/issue`, {
      acmeCertificate: [
        {
          boxIds: '1-2',
          acmeServerUrl: 'https://ca.example:14000/dir',
          algorithm: 'ec-prime256v1',
          renewDays: 30,
        },
        { clusterId: 'gigavue-4', domain: 'other.lab.test', algorithm: 'rsa-4096' },
      ],
    });
    t.equal(r.status, 202);
    t.match(r.json, { taskId: /^[0-9a-f-]{36}$/, statusUrl: `${BASE}/tasks/${r.json.taskId as string}` });
    t.equal(r.headers.location, r.json.statusUrl);
    t.same(calls, [
      {
        op: 'issue',
        boxIds: [1, 2, 4],
        settings: [
          { directoryUrl: 'https://ca.example:14000/dir', keyAlgorithm: 'prime256v1', renewDays: 30 },
          { directoryUrl: 'https://ca.example:14000/dir', keyAlgorithm: 'prime256v1', renewDays: 30 },
          { keyAlgorithm: 'rsa-4096', domain: 'other.lab.test' },
        ],
      },
    ]);
    const running = await call('GET', r.json.statusUrl);
    t.match(running.json, { status: 'IN_PROGRESS', total: 3, completed: 0, devices: [], finishedAt: null });
    release();
    await new Promise((r) => setImmediate(r));
    const done = await call('GET', r.json.statusUrl);
    t.match(done.json, {
      operationType: 'issue',
      status: 'COMPLETED',
      total: 3,
      completed: 3,
      succeeded: 2,
      failed: 1,
    });
    t.same(
      done.json.devices.map((d: { boxId: number; status: string; result: string }) => [
        d.boxId,
        d.status,
        d.result,
      ]),
      [
        [1, 'SUCCESS', 'Success'],
        [2, 'FAILED', 'Failed: the CA said no'],
        [4, 'SUCCESS', 'Success'],
      ],
    );
    t.equal((await call('GET', `${BASE}/tasks/no-such-task`)).status, 404);
  },
);

t.test(
  'the global template: stored by PUT, used for what an entry leaves out; POST runs its operationType',
  async (t) => {
    const { call, calls } = standIn(2);
    t.same((await call('GET', `${BASE}/globalConfig`)).json, {
      acmeServerUrl: null,
      operationType: 'issue',
      algorithm: null,
      renewDays: null,
    });
    const put = await call('PUT', `${BASE}/globalConfig`, {
      acmeServerUrl: 'https://ca.example/dir',
      algorithm: 'rsa-4096',
      renewDays: 20,
      operationType: 'renew',
    });
    t.equal(put.status, 200);
    t.equal(calls.length, 0, 'PUT only stores');
    t.same((await call('GET', `${BASE}/globalConfig`)).json, put.json);
    t.equal((await call('POST', `${BASE}/nodes/issue`)).status, 202, 'no body: every box, the template');
    t.equal(
      (
        await call('POST', `${BASE}/nodes/revoke`, {
          acmeCertificate: [{ domain: 'gigavue-2.lab.test', renewDays: null }],
        })
      ).status,
      202,
    );
    const post = await call('POST', `${BASE}/globalConfig`, { operationType: 'clear' });
    t.equal(post.status, 202);
    const tpl = { directoryUrl: 'https://ca.example/dir', keyAlgorithm: 'rsa-4096', renewDays: 20 };
    t.same(calls, [
      { op: 'issue', boxIds: [1, 2], settings: [tpl, tpl] },
      {
        op: 'revoke',
        boxIds: [2],
        settings: [
          { directoryUrl: 'https://ca.example/dir', keyAlgorithm: 'rsa-4096', domain: 'gigavue-2.lab.test' },
        ],
      },
      { op: 'clear', boxIds: [1, 2], settings: [tpl, tpl] },
    ]);
    t.equal((await call('GET', `${BASE}/globalConfig`)).json.operationType, 'clear');
  },
);

t.test('a 65535-box lab: one small request with a range reaches every box', async (t) => {
  const { call, calls } = standIn(65535);
  const body = JSON.stringify({ acmeCertificate: [{ boxIds: '1-65535' }] });
  t.ok(body.length < 100, `${body.length} bytes`);
  const r = await call('POST', `${BASE}/nodes/renew`, body);
  t.equal(r.status, 202);
  t.equal(calls[0]!.boxIds.length, 65535);
  await new Promise((r) => setImmediate(r));
  t.match((await call('GET', r.json.statusUrl)).json, {
    status: 'COMPLETED',
    total: 65535,
    completed: 65535,
  });
});

t.test('bad requests are 400 problems naming the fault; unknown boxes 404; nothing runs', async (t) => {
  const { call, calls } = standIn(3);
  const cases: [unknown, RegExp][] = [
    [{ acmeCertificate: [{ boxIds: '1-2', colour: 'red' }] }, /colour/],
    [{ acmeCertificate: [{ algorithm: 'dsa-1024' }] }, /algorithm/],
    [{ acmeCertificate: [{ acmeServerUrl: 'http://plain/dir' }] }, /acmeServerUrl/],
    [{ acmeCertificate: [{ renewDays: 0 }] }, /renewDays/],
    [{ acmeCertificate: [{ boxIds: 'x-y' }] }, /boxIds/],
    [{ acmeCertificate: [{ boxIds: '0-2' }] }, /boxIds takes/],
    [{ acmeCertificate: [{ boxIds: '1-2' }, { clusterId: 'gigavue-2' }] }, /Box 2 is in two/],
    [{ acmeCertificate: [{ boxIds: '1-3', domain: 'a.lab.test' }] }, /names one box/],
    [{ acmeCertificate: {} }, /acmeCertificate/],
    ['{"acmeCertificate": [', /JSON/],
  ];
  for (const [body, detail] of cases) {
    const r = await call('POST', `${BASE}/nodes/issue`, body);
    t.equal(r.status, 400, JSON.stringify(body));
    t.match(r.headers['content-type'], /^application\/problem\+json/);
    t.match(r.json, { code: 'bad-input', status: 400, detail });
  }
  for (const body of [
    { acmeCertificate: [{ boxIds: '2-5' }] },
    { acmeCertificate: [{ domain: 'nobody.lab.test' }] },
  ]) {
    const r = await call('POST', `${BASE}/nodes/renew`, body);
    t.equal(r.status, 404, JSON.stringify(body));
    t.match(r.json, { code: 'not-found' });
  }
  const big = {
    acmeCertificate: Array.from({ length: 700 }, () => ({ acmeServerUrl: `https://${'c'.repeat(100)}/dir` })),
  };
  t.equal((await call('POST', `${BASE}/nodes/issue`, big)).status, 413, 'over the 64 KiB body limit');
  t.equal(calls.length, 0);
});

t.test('authentication: bearer token or Basic admin; none is a 401 problem', async (t) => {
  const { call } = standIn(1);
  const basic = `Basic ${Buffer.from(`admin:${PW}`).toString('base64')}`;
  t.equal((await call('GET', `${BASE}/nodes`, undefined, basic)).status, 200);
  t.equal((await call('POST', `${BASE}/nodes/renew`, {}, basic)).status, 202);
  for (const auth of ['', `Basic ${Buffer.from('admin:wrong').toString('base64')}`, 'Bearer nope']) {
    const r = await call('POST', `${BASE}/nodes/renew`, {}, auth);
    t.equal(r.status, 401, auth);
    t.match(r.json, { code: 'unauthenticated' });
  }
});
