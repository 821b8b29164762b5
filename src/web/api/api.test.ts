/**
 * The box's REST API without a socket (light-my-request into the koa app's
 * callback): the behaviour that needs no CA, in the fast tier. The HTTPS
 * path, the real TLS client and ACME are in test/integration/web-api.test.ts.
 */
import t from 'tap';
import inject from 'light-my-request';
import { createHttpsApp } from '../app.js';
import { ADMIN, makeTestBox, TEST_PASSWORD } from '../../../test/harness/boxes.js';
import { openApiDocument } from './router.js';

const { box } = await makeTestBox();
box.setUserPassword(ADMIN, 'mon', 'M0nitor-pw');
box.setUserCapability(ADMIN, 'mon', 'monitor');
const app = createHttpsApp(() => box);
const handler = app.callback();

const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;
const ADMIN_AUTH = basic('admin', TEST_PASSWORD);
const MON_AUTH = basic('mon', 'M0nitor-pw');

async function call(method: string, url: string, o: { auth?: string; body?: unknown; raw?: string } = {}) {
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- koa's callback() catches its own errors
  const res = await inject(handler, {
    method: method as 'GET',
    url,
    headers: {
      ...(o.auth ? { authorization: o.auth } : {}),
      ...(o.body !== undefined || o.raw !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(o.raw !== undefined
      ? { payload: o.raw }
      : o.body !== undefined
        ? { payload: JSON.stringify(o.body) }
        : {}),
  });
  return { status: res.statusCode, headers: res.headers, json: res.body ? JSON.parse(res.body) : undefined };
}

t.test('the served document is the generated one, without login', async (t) => {
  const r = await call('GET', '/api/v1/openapi.json');
  t.equal(r.status, 200);
  t.strictSame(r.json, JSON.parse(JSON.stringify(openApiDocument())));
});

t.test('login: a token that works; wrong password, missing and mistyped fields refused', async (t) => {
  const ok = await call('POST', '/api/v1/login', { body: { username: 'admin', password: TEST_PASSWORD } });
  t.equal(ok.status, 200);
  t.match(ok.json, { tokenType: 'Bearer', user: 'admin', role: 'admin' });
  const s = await call('GET', '/api/v1/session', { auth: `Bearer ${ok.json.token}` });
  t.match(s.json, { user: 'admin', role: 'admin', authenticatedBy: 'token' });

  const wrong = await call('POST', '/api/v1/login', { body: { username: 'admin', password: 'nope' } });
  t.match(wrong, { status: 401, json: { code: 'unauthenticated', detail: 'Wrong user name or password.' } });
  t.match(wrong.headers['content-type'], /^application\/problem\+json/);
  t.match(await call('POST', '/api/v1/login', { body: { username: 'admin' } }), {
    status: 400,
    json: { code: 'bad-input', detail: 'Missing required field "password".' },
  });
  const typed = await call('POST', '/api/v1/login', { body: { username: 5, password: 'x', extra: 1 } });
  t.equal(typed.status, 400);
  t.same(
    typed.json.errors.map((e: { message: string }) => e.message),
    [
      'Field "username" must be a string, not an integer.',
      'Unknown field "extra"; allowed fields: username, password.',
    ],
    'every violation listed, in the order of the body',
  );
});

t.test('roles: a monitor reads, and is refused a change that then does not happen', async (t) => {
  t.equal((await call('GET', '/api/v1/system', { auth: MON_AUTH })).status, 200);
  const before = box.config.cryptoMode;
  const r = await call('PUT', '/api/v1/system/crypto-mode', { auth: MON_AUTH, body: { mode: 'fips' } });
  t.match(r, { status: 403, json: { code: 'permission-denied', detail: 'Permission denied.' } });
  t.equal(box.config.cryptoMode, before);
  t.match(await call('GET', '/api/v1/system'), { status: 401, json: { code: 'unauthenticated' } });
});

t.test('bodies: enum, nullable, anyOf formats, no body where none is taken', async (t) => {
  t.match(await call('PUT', '/api/v1/system/crypto-mode', { auth: ADMIN_AUTH, body: { mode: 'weak' } }), {
    status: 400,
    json: { detail: 'Field "mode" must be one of classic, secure-crypto, fips.' },
  });
  const issue = { domain: 'a.lab.test', acmeServerUrl: 'https://127.0.0.1:1/dir' };
  t.match(
    await call('POST', '/api/v1/acme/issue', { auth: ADMIN_AUTH, body: { ...issue, renewDays: '7' } }),
    {
      status: 400,
      json: { detail: 'Field "renewDays" must be an integer or null, not a string.' },
    },
  );
  const snmp = { host: 'trapd.lab.test', kind: 'traps', version: '2c', community: 'c' };
  t.match(await call('POST', '/api/v1/snmp/targets', { auth: ADMIN_AUTH, body: snmp }), {
    status: 400,
    json: { detail: 'Field "host" must be an IPv4 address.' },
  });
  const added = await call('POST', '/api/v1/snmp/targets', {
    auth: ADMIN_AUTH,
    body: { ...snmp, host: '::1' },
  });
  t.match(added, { status: 201, json: { host: '::1', port: 162, ratePerSec: 100 } });
  t.match(await call('POST', '/api/v1/system/write-memory', { auth: ADMIN_AUTH, body: { now: true } }), {
    status: 400,
    json: { detail: /takes no request body/ },
  });
  t.match(await call('POST', '/api/v1/acme/issue', { auth: ADMIN_AUTH }), {
    status: 400,
    json: { detail: 'A JSON object is required as the request body.' },
  });
  t.match(await call('POST', '/api/v1/login', { raw: '{"username": ' }), {
    status: 400,
    json: { detail: /^Malformed JSON in the request body/ },
  });
});

t.test('paths, methods and queries outside the table', async (t) => {
  t.match(await call('GET', '/api/v1/nothing', { auth: ADMIN_AUTH }), {
    status: 404,
    json: { code: 'not-found' },
  });
  const m = await call('DELETE', '/api/v1/system', { auth: ADMIN_AUTH });
  t.match(m, { status: 405, json: { code: 'method-not-allowed' } });
  t.match(m.headers.allow, /GET/);
  t.match(await call('GET', '/api/v1/acme?boxId=2', { auth: ADMIN_AUTH }), {
    status: 400,
    json: { detail: 'Unknown query parameter "boxId"; this resource takes none.' },
  });
  t.match(await call('DELETE', '/api/v1/snmp/targets/::1?port=x', { auth: ADMIN_AUTH }), {
    status: 400,
    json: { detail: 'Invalid port "x": give a whole number from 1 to 65535.' },
  });
});
