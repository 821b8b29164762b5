/**
 * The REST API of a box through a real HTTPS client that verifies the box's
 * certificate (the client trusts exactly the box's current web certificate,
 * or the root of the CA that issued it, and checks its IP SAN). Every route's happy path, each validation error,
 * each role, the audit source, and every answer checked against the
 * OpenAPI document the box serves.
 *
 * The ACME routes drive the real AcmeAgent against a real Pebble started by
 * this file (its VA dials the box's http-01 port on 127.0.0.73, this file's
 * own loopback address, so that files running at once do not collide):
 * issue -> 202 -> poll GET /api/v1/acme until Success; renew; a renewal the
 * CA refuses; revoke; clear.
 */
import t from 'tap';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { AcmeAgent } from '../../src/acme/agent.js';
import { freePort } from '../../src/lib/net.js';
import { isDeviceError } from '../../src/device/errors.js';
import { DEFAULT_SNMP_RATE_PER_SEC } from '../../src/device/limits.js';
import type { Actor, Role } from '../../src/device/roles.js';
import { FaultBoard } from '../../src/lab/faults.js';
import { ConnectFaults } from '../../src/lib/connect-faults.js';
import { FaultProxy } from '../harness/fault-proxy.js';
import { ManualClock, SystemClock, type Clock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { createSelfSigned } from '../../src/pki/self-signed.js';
import type { OpenApiDocument, Operation } from '../../src/web/api/openapi.js';
import { SchemaValidator, type JsonSchema } from '../../src/lib/json-schema.js';
import { WebServer } from '../../src/web/server.js';
import { ADMIN, makeTestBox, TEST_PASSWORD, acmePortOf } from '../harness/boxes.js';
import { FAST_ACME, opensslVerify, servedCertificate, startPebble } from '../harness/pebble.js';

/** The type of a tap test object (plugins included). */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

const OP_PW = 'Op3rator-pw';
const MON_PW = 'M0nitor-pw';
const CREDS: Record<Role, [string, string]> = {
  admin: ['admin', TEST_PASSWORD],
  operator: ['op', OP_PW],
  monitor: ['mon', MON_PW],
};

// ------------------------------------------------------------------ the CA

/** The box's address: its listeners, its IP SAN, and the identifier Pebble's VA dials. */
const ADDRESS = '127.0.0.73';
const HTTP_PORT = await freePort(ADDRESS);
const pebble = await startPebble({ httpPort: HTTP_PORT, defaultIPv4: ADDRESS });
t.teardown(() => pebble.stop());

// ------------------------------------------------------------------ HTTPS client

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

interface CallOptions {
  /** HTTP Basic as this role, or a session token, or nothing. */
  as?: Role | { token: string } | { user: string; password: string };
  body?: unknown;
  /** Sent as is (malformed input tests). */
  raw?: string | Buffer;
  contentType?: string;
  params?: Record<string, string>;
  query?: string;
  headers?: Record<string, string>;
}

/** A box on real sockets with users of every role and the real ACME agent. */
async function startBox(
  t: TapTest,
  o: { clock?: Clock; sessions?: { idleMs?: number; maxAgeMs?: number; maxSessions?: number } } = {},
) {
  const clock = o.clock ?? new SystemClock();
  const { box } = await makeTestBox({ clock, address: ADDRESS });
  const acme = new AcmeAgent({
    port: acmePortOf(box),
    clock,
    logger: silentLogger,
    // Fast polling against Pebble; a failed renewal is retried after an hour, not within the
    // test (FAST_ACME's half second would start a renewal of its own under the revoke below).
    settings: { ...FAST_ACME, renewalRetryDelaysMs: [3_600_000] },
  });
  box.attachAcme(acme);
  acme.resume();
  t.teardown(() => acme.stop());
  box.setUserPassword(ADMIN, 'op', OP_PW);
  box.setUserCapability(ADMIN, 'op', 'operator');
  box.setUserPassword(ADMIN, 'mon', MON_PW);
  box.setUserCapability(ADMIN, 'mon', 'monitor');
  const web = new WebServer({
    box,
    address: ADDRESS,
    httpsPort: 0,
    httpPort: HTTP_PORT,
    logger: silentLogger,
    sessions: o.sessions,
  });
  const { https } = await web.listen();
  t.teardown(() => web.close());
  const audits: { actor: Actor; action: string }[] = [];
  box.events.on('audit', (a) => audits.push({ actor: a.actor, action: a.action }));

  /** CA roots the client trusts besides the box's web certificate (a CA that issued it). */
  const roots: string[] = [];
  /**
   * One request on a fresh TLS connection that trusts exactly the box's
   * current web certificate (and the roots given to trustRoot, for a
   * certificate a CA issued); the default name check verifies the IP SAN.
   */
  const call = (method: string, template: string, c: CallOptions = {}): Promise<Reply> => {
    let path =
      '/api/v1' + template.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(c.params?.[k] ?? ''));
    if (c.query) path += '?' + c.query;
    const headers: Record<string, string> = { ...(c.headers ?? {}) };
    const as = c.as;
    if (typeof as === 'string') headers.Authorization = basic(...CREDS[as]);
    else if (as && 'token' in as) headers.Authorization = `Bearer ${as.token}`;
    else if (as) headers.Authorization = basic(as.user, as.password);
    let payload: string | Buffer | undefined = c.raw;
    if (c.body !== undefined) payload = JSON.stringify(c.body);
    if (payload !== undefined) {
      headers['Content-Type'] = c.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: ADDRESS,
          port: https,
          method,
          path,
          headers,
          ca: [box.webCredentials().certPem, ...roots],
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode!, headers: res.headers, text, json });
          });
        },
      );
      req.once('error', reject);
      req.end(payload);
    });
  };
  return { box, acme, web, https, call, audits, trustRoot: (pem: string) => void roots.push(pem) };
}

function basic(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}

/** The message a Box call throws (what the CLI prints after "% "). */
async function boxMessage(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (isDeviceError(e)) return e.message;
    throw e;
  }
  throw new Error('expected the Box to refuse');
}

// ------------------------------------------------------------------ the document as oracle

/**
 * Checks every answer against the OpenAPI document the box serves: the
 * status must be documented for the operation, and the body must match its
 * schema. Remembers which operations answered 2xx, for the coverage check.
 */
class DocChecker {
  readonly covered = new Set<string>();
  private readonly validator: SchemaValidator;
  constructor(readonly doc: OpenApiDocument) {
    this.validator = new SchemaValidator(doc.components.schemas);
  }

  op(method: string, template: string): Operation {
    const op = this.doc.paths[template]?.[method.toLowerCase() as 'get'];
    if (!op) throw new Error(`${method} ${template} is not in the document`);
    return op;
  }

  check(t: TapTest, method: string, template: string, r: Reply): void {
    const op = this.op(method, template);
    const documented = op.responses[String(r.status)];
    t.ok(documented, `${method} ${template}: status ${r.status} is documented`);
    if (!documented) return;
    const resp =
      '$ref' in documented ? this.doc.components.responses[documented.$ref.split('/').pop()!]! : documented;
    const [mediaType, media] = Object.entries(resp.content ?? {})[0] ?? [];
    if (!media) {
      t.equal(r.text, '', `${method} ${template} ${r.status}: no body`);
    } else {
      t.match(
        String(r.headers['content-type']),
        mediaType!,
        `${method} ${template} ${r.status}: ${mediaType}`,
      );
      t.same(
        this.validator.validate(media.schema as JsonSchema, r.json),
        [],
        `${method} ${template} ${r.status}: body matches the document`,
      );
    }
    if (r.status < 300) this.covered.add(op.operationId);
  }
}

// ------------------------------------------------------------------ tests

t.test('the REST API, route by route', async (t) => {
  const { box, https, call, audits, trustRoot } = await startBox(t);
  const docReply = await call('GET', '/openapi.json');
  t.equal(docReply.status, 200);
  const doc = new DocChecker(docReply.json as OpenApiDocument);
  doc.check(t, 'GET', '/openapi.json', docReply);

  /** call + check against the document. */
  const api = async (method: string, template: string, c: CallOptions = {}) => {
    const r = await call(method, template, c);
    doc.check(t, method, template, r);
    return r;
  };
  /** Expect a problem with this status, code and (when given) exactly this detail. */
  const refused = async (r: Reply, status: number, code: string, detail?: string | RegExp) => {
    t.equal(r.status, status, `status ${status} (${r.json?.detail})`);
    t.equal(r.json?.code, code);
    t.match(String(r.headers['content-type']), 'application/problem+json');
    t.equal(r.json?.type, `urn:gvos-sim:problem:${code}`);
    if (typeof detail === 'string') t.equal(r.json?.detail, detail);
    else if (detail) t.match(r.json?.detail, detail);
  };

  /** Poll GET /acme (every 50 ms) until the last request is no longer In Progress; the final answer is checked against the document. */
  const finished = async (timeoutMs = 30_000): Promise<Reply> => {
    const deadline = Date.now() + timeoutMs;
    while ((await call('GET', '/acme', { as: 'monitor' })).json?.lastAcmeRequest?.status === 'In Progress') {
      if (Date.now() > deadline)
        throw new Error(`the ACME request is still In Progress after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return api('GET', '/acme', { as: 'monitor' });
  };

  await t.test('session: login, token use, logout', async (t) => {
    const login = await api('POST', '/login', { body: { username: 'op', password: OP_PW } });
    t.equal(login.status, 200);
    t.equal(login.json.role, 'operator');
    t.equal(login.json.tokenType, 'Bearer');
    t.ok(login.json.token.length >= 43, 'a 256-bit token');
    const token = { token: login.json.token as string };
    const s = await api('GET', '/session', { as: token });
    t.same(
      { user: s.json.user, role: s.json.role, by: s.json.authenticatedBy },
      { user: 'op', role: 'operator', by: 'token' },
    );
    const sb = await api('GET', '/session', { as: 'monitor' });
    t.same(
      { user: sb.json.user, by: sb.json.authenticatedBy, exp: sb.json.expiresAt },
      { user: 'mon', by: 'basic', exp: null },
    );
    t.equal((await api('POST', '/logout', { as: token })).status, 204);
    const after = await api('GET', '/session', { as: token });
    await refused(after, 401, 'unauthenticated', /log in again/);
    t.equal(
      after.headers['www-authenticate'],
      'Bearer realm="gvos-sim", charset="UTF-8"',
      'no Basic challenge for a token client (no browser dialog)',
    );

    await refused(
      await api('POST', '/login', { body: { username: 'op', password: 'nope' } }),
      401,
      'unauthenticated',
      'Wrong user name or password.',
    );
    await refused(
      await api('POST', '/login', { body: { username: 'ghost', password: OP_PW } }),
      401,
      'unauthenticated',
    );
    await refused(
      await api('POST', '/login', { body: { username: 'op' } }),
      400,
      'bad-input',
      'Missing required field "password".',
    );
    await refused(
      await api('POST', '/login', { body: { username: 'op', password: 5 } }),
      400,
      'bad-input',
      'Field "password" must be a string, not an integer.',
    );
    const none = await api('GET', '/system');
    await refused(none, 401, 'unauthenticated', /Authentication required/);
    t.match(String(none.headers['www-authenticate']), /^Basic realm="gvos-sim"/);
    await refused(
      await api('GET', '/system', { as: { user: 'admin', password: 'wrong' } }),
      401,
      'unauthenticated',
      'Wrong user name or password.',
    );
    await refused(await api('GET', '/system', { as: { token: 'x'.repeat(43) } }), 401, 'unauthenticated');
  });

  await t.test('system', async (t) => {
    const sys = await api('GET', '/system', { as: 'monitor' });
    t.equal(sys.status, 200);
    t.same(
      { id: sys.json.boxId, host: sys.json.hostname, v: sys.json.version },
      { id: 1, host: 'box1', v: box.image.version },
    );
    const v = await api('GET', '/system/version', { as: 'monitor' });
    t.same(
      [v.json.productName, v.json.productRelease, v.json.buildId],
      ['GigaVUE-OS', box.image.version, box.image.buildId],
    );
    const ch = await api('GET', '/system/chassis', { as: 'monitor' });
    t.same(
      ch.json.map((c: { boxId: number; local: boolean }) => [c.boxId, c.local]),
      [[1, true]],
    );

    const cm = await api('GET', '/system/crypto-mode', { as: 'monitor' });
    t.same(cm.json, {
      active: 'secure-crypto',
      configured: 'secure-crypto',
      reloadNeeded: false,
      algorithms: ['ec-prime256v1', 'ec-secp384r1'],
    });
    await refused(
      await api('PUT', '/system/crypto-mode', { as: 'operator', body: { mode: 'fips' } }),
      403,
      'permission-denied',
      'Permission denied.',
    );
    await refused(
      await api('PUT', '/system/crypto-mode', { as: 'admin', body: { mode: 'paranoid' } }),
      400,
      'bad-input',
      'Field "mode" must be one of classic, secure-crypto, fips.',
    );
    const set = await api('PUT', '/system/crypto-mode', { as: 'admin', body: { mode: 'fips' } });
    t.same(
      [set.json.active, set.json.configured, set.json.reloadNeeded],
      ['secure-crypto', 'fips', true],
      'effective after reload',
    );
    t.equal((await api('GET', '/system', { as: 'admin' })).json.unsavedChanges, true);
    await refused(await api('POST', '/system/write-memory', { as: 'monitor' }), 403, 'permission-denied');
    t.equal((await api('POST', '/system/write-memory', { as: 'operator' })).status, 204);
    t.equal(box.savedConfig.cryptoMode, 'fips', 'saved');
    t.equal((await api('GET', '/system', { as: 'admin' })).json.unsavedChanges, false);
  });

  await t.test('certificates, CA list and the web mapping', async (t) => {
    const k = await generateKeyPair('prime256v1');
    const other = await generateKeyPair('prime256v1');
    const pem = await createSelfSigned({
      privateKeyPem: k.privateKeyPem,
      keyAlgorithm: 'prime256v1',
      commonName: 'lab-ca',
      altNames: [ADDRESS],
      notBeforeMs: Date.now(),
      validDays: 30,
    });
    const list = await api('GET', '/certificates', { as: 'monitor' });
    t.same(
      list.json.map((c: { name: string }) => c.name),
      ['default-cert'],
    );

    await refused(
      await api('POST', '/certificates', { as: 'monitor', body: { name: 'lab', pem } }),
      403,
      'permission-denied',
      'Permission denied.',
    );
    const add = await api('POST', '/certificates', { as: 'operator', body: { name: 'lab', pem } });
    t.equal(add.status, 201);
    t.equal(add.headers.location, '/api/v1/certificates/lab');
    t.same(
      [add.json.name, add.json.hasPrivateKey, add.json.serial],
      ['lab', false, new X509Certificate(pem).serialNumber.toUpperCase()],
    );
    await refused(
      await api('POST', '/certificates', { as: 'operator', body: { name: 'lab', pem } }),
      409,
      'exists',
      await boxMessage(() => box.addPublicCertificate(ADMIN, 'lab', pem)),
    );
    await refused(
      await api('POST', '/certificates', { as: 'operator', body: { name: 'bad', pem: 'hello' } }),
      400,
      'bad-input',
      /^Invalid certificate PEM: /,
    );
    await refused(
      await api('POST', '/certificates', {
        as: 'operator',
        body: { name: 'big', pem: pem + 'x'.repeat(64 * 1024) },
      }),
      400,
      'bad-input',
      'PEM value too long: at most 64 KiB.',
    );
    await refused(
      await api('POST', '/certificates', { as: 'operator', body: { name: 'no spaces', pem } }),
      400,
      'bad-input',
      /^Invalid certificate name "no spaces"/,
    );
    await refused(
      await api('POST', '/certificates', { as: 'operator', body: { name: 'x', pem, key: 'k' } }),
      400,
      'bad-input',
      /^Unknown field "key"; allowed fields: name, pem\.$/,
    );

    await refused(
      await api('PUT', '/certificates/{name}/private-key', {
        as: 'operator',
        params: { name: 'lab' },
        body: { pem: other.privateKeyPem },
      }),
      400,
      'bad-input',
      'The private key does not match certificate "lab"; nothing was changed.',
    );
    const key = await api('PUT', '/certificates/{name}/private-key', {
      as: 'operator',
      params: { name: 'lab' },
      body: { pem: k.privateKeyPem },
    });
    t.equal(key.status, 200);
    t.equal(key.json.hasPrivateKey, true);
    t.notMatch(key.text, /PRIVATE KEY/, 'the key is not echoed');
    await refused(
      await api('PUT', '/certificates/{name}/private-key', {
        as: 'operator',
        params: { name: 'nope' },
        body: { pem: k.privateKeyPem },
      }),
      404,
      'not-found',
    );
    const one = await api('GET', '/certificates/{name}', { as: 'monitor', params: { name: 'lab' } });
    t.same(one.json.subjectAltNames, [`IP:${ADDRESS}`]);
    await refused(
      await api('GET', '/certificates/{name}', { as: 'monitor', params: { name: 'nope' } }),
      404,
      'not-found',
      'Certificate "nope" not found.',
    );

    // CA list
    t.same((await api('GET', '/ca-list', { as: 'monitor' })).json, []);
    const ca = await api('POST', '/ca-list', { as: 'operator', body: { name: 'lab' } });
    t.same(
      ca.json.map((c: { name: string }) => c.name),
      ['lab'],
    );
    await refused(
      await api('POST', '/ca-list', { as: 'operator', body: { name: 'nope' } }),
      404,
      'not-found',
    );
    await refused(
      await api('DELETE', '/certificates/{name}', { as: 'operator', params: { name: 'lab' } }),
      409,
      'in-use',
      /is in the CA list/,
    );
    t.equal(
      (await api('DELETE', '/ca-list/{name}', { as: 'operator', params: { name: 'lab' } })).status,
      204,
    );
    await refused(
      await api('DELETE', '/ca-list/{name}', { as: 'operator', params: { name: 'lab' } }),
      404,
      'not-found',
      'Certificate "lab" is not in the CA list.',
    );

    // Web mapping: the next handshake presents the new certificate.
    const w0 = await api('GET', '/web/certificate', { as: 'monitor' });
    t.same([w0.json.certName, w0.json.acmeManaged], ['default-cert', false]);
    const w1 = await api('PUT', '/web/certificate', { as: 'operator', body: { name: 'lab' } });
    t.same([w1.json.certName, w1.json.certificate.usedByWeb], ['lab', true]);
    t.equal(box.webCredentials().certName, 'lab');
    t.equal(
      (await api('GET', '/system', { as: 'monitor' })).status,
      200,
      'the client now trusts (only) the lab certificate and still gets in',
    );
    await refused(
      await api('DELETE', '/certificates/{name}', { as: 'operator', params: { name: 'lab' } }),
      409,
      'in-use',
      /in use by web https/,
    );
    await refused(
      await api('PUT', '/web/certificate', { as: 'operator', body: { name: 'ghost' } }),
      404,
      'not-found',
    );
    t.equal(
      (await api('PUT', '/web/certificate', { as: 'operator', body: { name: 'default-cert' } })).json
        .certName,
      'default-cert',
    );
    t.equal(
      (await api('DELETE', '/certificates/{name}', { as: 'operator', params: { name: 'lab' } })).status,
      204,
    );
    await refused(
      await api('DELETE', '/certificates/{name}', { as: 'operator', params: { name: 'default-cert' } }),
      409,
      'in-use',
    );
  });

  await t.test(
    'SNMP settings, communities and v3 users (test/integration/snmp-rest.test.ts has the agent side)',
    async (t) => {
      t.equal((await api('GET', '/snmp', { as: 'monitor' })).status, 200);
      const put = await api('PUT', '/snmp', { as: 'operator', body: { contact: 'noc@lab.test' } });
      t.equal(put.json.contact, 'noc@lab.test');
      const com = await api('PUT', '/snmp/communities', { as: 'admin', body: { communities: ['lab-ro'] } });
      t.same(com.json.communities, ['********'], 'communities masked in the answer');
      t.equal(
        (await api('PUT', '/snmp/users/{name}', { as: 'admin', params: { name: 'pollv3' }, body: {} }))
          .status,
        200,
      );
      t.ok(
        (await api('DELETE', '/snmp/users/{name}', { as: 'admin', params: { name: 'pollv3' } })).status < 300,
      );
    },
  );

  await t.test('SNMP targets', async (t) => {
    t.same((await api('GET', '/snmp/targets', { as: 'monitor' })).json, []);
    const add = await api('POST', '/snmp/targets', {
      as: 'operator',
      body: { host: '127.0.0.1', port: 16200, kind: 'traps', version: '2c', community: 's3cret-community' },
    });
    t.equal(add.status, 201);
    t.same(add.json, {
      host: '127.0.0.1',
      port: 16200,
      kind: 'traps',
      version: '2c',
      ratePerSec: DEFAULT_SNMP_RATE_PER_SEC,
    });
    const v6 = await api('POST', '/snmp/targets', {
      as: 'operator',
      body: { host: '::1', kind: 'informs', version: '2c', community: 'c2', ratePerSec: 5 },
    });
    t.same([v6.json.port, v6.json.ratePerSec, v6.headers.location], [162, 5, '/api/v1/snmp/targets/%3A%3A1']);
    await refused(
      await api('POST', '/snmp/targets', {
        as: 'operator',
        body: { host: '::1', kind: 'informs', version: '3', user: 'informuser' },
      }),
      404,
      'not-found',
      await boxMessage(() =>
        box.snmpSetTarget(ADMIN, {
          host: '::1',
          port: 162,
          kind: 'informs',
          version: '3',
          user: 'informuser',
          ratePerSec: 1,
        }),
      ),
    );
    await refused(
      await api('POST', '/snmp/targets', {
        as: 'operator',
        body: { host: '::1', kind: 'traps', version: '2c', community: 'c', ratePerSec: 0 },
      }),
      400,
      'bad-input',
      /^Invalid rate "0": give a whole number from 1 to /,
    );
    const list = await api('GET', '/snmp/targets', { as: 'monitor' });
    t.equal(list.json.length, 2);
    t.notMatch(list.text, /s3cret-community/, 'communities are never shown');
    await refused(
      await api('POST', '/snmp/targets', {
        as: 'operator',
        body: { host: '127.0.0.1', kind: 'traps', version: '2c' },
      }),
      400,
      'bad-input',
      'An SNMPv1/v2c target needs a community.',
    );
    await refused(
      await api('POST', '/snmp/targets', {
        as: 'operator',
        body: { host: '127.0.0.1', port: 70000, kind: 'traps', version: '1', community: 'c' },
      }),
      400,
      'bad-input',
      'Invalid port "70000": give a whole number from 1 to 65535.',
    );
    await refused(
      await api('POST', '/snmp/targets', {
        as: 'operator',
        body: { host: 'trapd.lab.test', kind: 'traps', version: '2c', community: 'c' },
      }),
      400,
      'bad-input',
      'Field "host" must be an IPv4 address.',
    );
    await refused(await api('POST', '/snmp/targets', { as: 'monitor', body: {} }), 403, 'permission-denied');
    await refused(
      await api('DELETE', '/snmp/targets/{host}', {
        as: 'operator',
        params: { host: '127.0.0.1' },
        query: 'port=x',
      }),
      400,
      'bad-input',
      'Invalid port "x": give a whole number from 1 to 65535.',
    );
    await refused(
      await api('DELETE', '/snmp/targets/{host}', {
        as: 'operator',
        params: { host: '127.0.0.1' },
        query: 'prot=1',
      }),
      400,
      'bad-input',
      'Unknown query parameter "prot"; allowed: port.',
    );
    t.equal(
      (
        await api('DELETE', '/snmp/targets/{host}', {
          as: 'operator',
          params: { host: '127.0.0.1' },
          query: 'port=16200',
        })
      ).status,
      204,
    );
    t.equal(
      (await api('DELETE', '/snmp/targets/{host}', { as: 'operator', params: { host: '::1' } })).status,
      204,
    );
    await refused(
      await api('DELETE', '/snmp/targets/{host}', { as: 'operator', params: { host: '::1' } }),
      404,
      'not-found',
      'SNMP host "::1" is not configured.',
    );
  });

  await t.test(
    "ACME: every operation, the status with the manager's field names, each validation error",
    async (t) => {
      const empty = await api('GET', '/acme', { as: 'monitor' });
      t.same(empty.json, { boxId: 1, clusterName: 'test', issuedCert: null, lastAcmeRequest: null });
      const defaultServed = await servedCertificate(ADDRESS, https);
      // The lab's acme-slow fault between the box and Pebble (a TCP proxy that holds back every
      // chunk the CA sends): the issue stays In Progress long enough to be seen and to refuse a
      // second one, which a direct issue (about 60 ms) would not reliably allow.
      const proxy = new FaultProxy('127.0.0.1', pebble.ports.acme);
      t.teardown(() => proxy.close());
      const issue = {
        domain: ADDRESS,
        acmeServerUrl: `https://127.0.0.1:${await proxy.listen()}/dir`,
        algorithm: 'ec-secp384r1',
        renewDays: 30,
      };

      await refused(
        await api('POST', '/acme/issue', { as: 'operator', body: issue }),
        403,
        'permission-denied',
        'Permission denied.',
      );
      await refused(
        await api('POST', '/acme/issue', { as: 'monitor', body: issue }),
        403,
        'permission-denied',
        'Permission denied.',
      );
      const noDns = await api('POST', '/acme/issue', { as: 'admin', body: issue });
      await refused(
        noDns,
        412,
        'precondition',
        await boxMessage(() => box.acmeIssue(ADMIN, { domain: ADDRESS, directoryUrl: issue.acmeServerUrl })),
      );
      box.addNameServer(ADMIN, pebble.dnsServer);

      // Shape errors come from the document; value errors from the Box, in the CLI's words.
      const cases: [string, unknown, string | RegExp][] = [
        ['missing domain', { acmeServerUrl: issue.acmeServerUrl }, 'Missing required field "domain".'],
        [
          'unknown field',
          { ...issue, domains: ['a'] },
          /^Unknown field "domains"; allowed fields: domain, acmeServerUrl, algorithm, renewDays\.$/,
        ],
        [
          'algorithm not a word we know',
          { ...issue, algorithm: 'dsa-1024' },
          'Field "algorithm" must be one of rsa-2048, rsa-4096, ec-prime256v1, ec-secp384r1.',
        ],
        [
          'renewDays as text',
          { ...issue, renewDays: '30' },
          'Field "renewDays" must be an integer or null, not a string.',
        ],
        [
          'renewDays fraction',
          { ...issue, renewDays: 1.5 },
          'Field "renewDays" must be an integer or null, not a number.',
        ],
        ['body not an object', [issue], 'The request body must be an object, not an array.'],
        [
          'algorithm not allowed in the mode',
          { ...issue, algorithm: 'rsa-2048' },
          'Key algorithm rsa-2048 is not allowed in secure-crypto mode; use prime256v1 or secp384r1.',
        ],
        [
          'renewDays out of range',
          { ...issue, renewDays: 400 },
          'Invalid renew-days "400": give a whole number from 1 to 365.',
        ],
        [
          'wildcard',
          { ...issue, domain: '*.lab.test' },
          'Wildcard domain "*.lab.test" is not supported: give one host name or IP address.',
        ],
        ['two names', { ...issue, domain: 'a.lab.test,b.lab.test' }, /^Only one domain is allowed/],
        [
          'plain http server',
          { ...issue, acmeServerUrl: 'http://127.0.0.1:14000/dir' },
          /must be an https:\/\/ URL/,
        ],
      ];
      for (const [name, body, detail] of cases) {
        const r = await api('POST', '/acme/issue', { as: 'admin', body });
        t.equal(r.status, 400, name);
        t.match(r.json.detail, detail, name);
      }
      // The same words as the Box gives the CLI.
      t.equal(
        (await api('POST', '/acme/issue', { as: 'admin', body: { ...issue, renewDays: 0 } })).json.detail,
        await boxMessage(() =>
          box.acmeIssue(ADMIN, { domain: ADDRESS, directoryUrl: issue.acmeServerUrl, renewDays: 0 }),
        ),
      );
      await refused(
        await api('POST', '/acme/renew', { as: 'admin', body: { domain: ADDRESS } }),
        412,
        'precondition',
        'No ACME issued certificate to renew; issue one first.',
      );
      await refused(
        await api('POST', '/acme/clear', { as: 'admin' }),
        412,
        'precondition',
        'No ACME issued certificate to clear.',
      );

      // The agent's own checks, against the real CA: its TLS is not trusted yet.
      const untrusted = await api('POST', '/acme/issue', { as: 'admin', body: issue });
      await refused(
        untrusted,
        412,
        'precondition',
        /^The ACME server's TLS certificate is not trusted by the CA list/,
      );
      t.match(
        untrusted.json.detail,
        `Add the root certificate "${pebble.listenerCaName}"`,
        'naming the CA to add',
      );
      // Trust Pebble as an operator would, over REST: its listener CA (TLS to the CA) and its
      // issuing root (the chain of what it issues).
      for (const [name, pem] of [
        ['pebble-ca', pebble.listenerCaPem],
        ['pebble-root', await pebble.root()],
      ] as const) {
        t.equal((await api('POST', '/certificates', { as: 'operator', body: { name, pem } })).status, 201);
        t.equal((await api('POST', '/ca-list', { as: 'operator', body: { name } })).status, 200);
      }
      // The client trusts Pebble's root too from now on: the certificate the box will serve is
      // Pebble's (a leaf is no trust anchor for Node's TLS).
      trustRoot(await pebble.root());

      proxy.setSlow(150);
      const started = await api('POST', '/acme/issue', { as: 'admin', body: issue });
      t.equal(started.status, 202);
      t.equal(started.headers.location, '/api/v1/acme');
      t.same(started.json, { operation: 'issue', statusUrl: '/api/v1/acme' });
      const running = await api('GET', '/acme', { as: 'monitor' });
      t.same(running.json.lastAcmeRequest, {
        domainName: ADDRESS,
        acmeCaUrl: issue.acmeServerUrl,
        type: 'Issue',
        status: 'In Progress',
        startedAt: running.json.lastAcmeRequest.startedAt,
        finishedAt: null,
      });
      await refused(
        await api('POST', '/acme/issue', { as: 'admin', body: issue }),
        409,
        'busy',
        /^An ACME issue is already in progress on box 1/,
      );
      proxy.setSlow(0);

      const done = await finished();
      const ic = done.json.issuedCert;
      t.same(
        [ic.domain, ic.acmeCaUrl, ic.algorithm, ic.certName, ic.renewDays, ic.status, ic.lastSuccessRenew],
        [ADDRESS, issue.acmeServerUrl, 'ec-secp384r1', 'acme-https.crt', 30, 'Active', null],
      );
      t.ok(Date.parse(ic.expiry) > Date.parse(ic.firstIssued), 'dates are RFC 3339');
      t.equal(done.json.lastAcmeRequest.status, 'Success');
      const issued = await servedCertificate(ADDRESS, https);
      t.equal(issued.serial, box.acmeState().issued?.serial, 'HTTPS serves the issued certificate');
      t.equal(
        new X509Certificate(issued.chainPem[0]!).publicKey.asymmetricKeyDetails?.namedCurve,
        'secp384r1',
        "FM name mapped to the Box's: an EC P-384 key",
      );
      t.match(await opensslVerify(issued.chainPem, await pebble.root(), ADDRESS), /: OK$/);
      t.same((await api('GET', '/web/certificate', { as: 'monitor' })).json.acmeManaged, true);
      await refused(
        await api('PUT', '/web/certificate', { as: 'operator', body: { name: 'default-cert' } }),
        409,
        'in-use',
        'The web certificate is managed by ACME; clear it first with "crypto certificate acme clear".',
      );

      await refused(
        await api('POST', '/acme/renew', { as: 'admin', body: { domain: 'other.lab.test' } }),
        400,
        'bad-input',
        `Domain "other.lab.test" does not match the ACME certificate's domain "${ADDRESS}".`,
      );
      const renew = await api('POST', '/acme/renew', { as: 'admin', body: { ...issue, renewDays: 5 } });
      t.equal(renew.status, 202);
      const renewed = await finished();
      t.same([renewed.json.lastAcmeRequest.type, renewed.json.lastAcmeRequest.status], ['Renew', 'Success']);
      t.equal(renewed.json.issuedCert.renewDays, 30, 'renewal keeps the issued renew days (seed limitation)');
      t.ok(Date.parse(renewed.json.issuedCert.lastSuccessRenew), 'Last Succesful Renewal recorded');
      const renewedServed = await servedCertificate(ADDRESS, https);
      t.not(renewedServed.serial, issued.serial, 'HTTPS serves the renewed certificate');

      // A renewal the CA refuses: the lab's challenge-wrong fault makes the box answer http-01
      // with a wrong key authorization, and Pebble's VA rejects it.
      const faults = new FaultBoard(
        () => new ConnectFaults(),
        () => box,
      );
      faults.set(1, 'challenge-wrong', true);
      t.equal((await api('POST', '/acme/renew', { as: 'admin', body: { domain: ADDRESS } })).status, 202);
      const failed = await finished();
      faults.set(1, 'challenge-wrong', false);
      t.match(failed.json.lastAcmeRequest.status, /^Failed: .*(?:unauthorized|key authorization)/i);
      t.ok(Date.parse(failed.json.issuedCert.lastFailedRenew), 'Last Failed Renewal recorded');
      t.equal(
        (await servedCertificate(ADDRESS, https)).serial,
        renewedServed.serial,
        'a failed renewal leaves the served certificate alone',
      );

      t.equal((await api('POST', '/acme/revoke', { as: 'admin', body: { domain: ADDRESS } })).status, 202);
      const revoked = await finished();
      t.same([revoked.json.lastAcmeRequest.type, revoked.json.lastAcmeRequest.status], ['Revoke', 'Success']);
      t.match(await pebble.certStatus(renewedServed.serial), { Status: 'Revoked' }, 'Pebble: revoked');
      t.not(
        (await servedCertificate(ADDRESS, https)).serial,
        renewedServed.serial,
        'a new certificate is served',
      );

      const clear = await api('POST', '/acme/clear', { as: 'admin' });
      t.same([clear.status, clear.json.operation], [202, 'clear']);
      const cleared = await api('GET', '/acme', { as: 'monitor' });
      t.same([cleared.json.lastAcmeRequest.type, cleared.json.lastAcmeRequest.status], ['Clear', 'Success']);
      t.equal(cleared.json.issuedCert, null);
      t.equal(box.webCertificateName, 'default-cert');
      t.equal(
        (await servedCertificate(ADDRESS, https)).serial,
        defaultServed.serial,
        'the default certificate again',
      );
      const clear2 = await api('POST', '/acme/clear', { as: 'admin', body: { domain: ADDRESS } });
      await refused(clear2, 412, 'precondition');
    },
  );

  await t.test('malformed requests get a clear 4xx, never a 5xx', async (t) => {
    await refused(
      await call('POST', '/login', { raw: '{"username": "admin", ' }),
      400,
      'bad-input',
      /^Malformed JSON in the request body/,
    );
    await refused(
      await call('POST', '/login', { raw: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }),
      400,
      'bad-input',
      'The request body is not valid UTF-8 text.',
    );
    await refused(
      await call('POST', '/login', {
        raw: 'username=admin',
        contentType: 'application/x-www-form-urlencoded',
      }),
      415,
      'unsupported-media-type',
      /send "Content-Type: application\/json"/,
    );
    await refused(
      await call('POST', '/certificates', {
        as: 'operator',
        raw: JSON.stringify({ name: 'x', pem: 'y'.repeat(200 * 1024) }),
      }),
      413,
      'payload-too-large',
      'The request body is too large: at most 128 KiB of JSON.',
    );
    await refused(
      await call('POST', '/system/write-memory', { as: 'operator', body: { now: true } }),
      400,
      'bad-input',
      /takes no request body/,
    );
    await refused(
      await call('POST', '/acme/issue', { as: 'admin' }),
      400,
      'bad-input',
      'A JSON object is required as the request body.',
    );
    await refused(
      await call('GET', '/nothing/here', { as: 'admin' }),
      404,
      'not-found',
      /No API resource at \/api\/v1\/nothing\/here/,
    );
    const wrong = await call('DELETE', '/system', { as: 'admin' });
    await refused(wrong, 405, 'method-not-allowed');
    t.match(String(wrong.headers.allow), /GET/);
    await refused(await call('PATCH', '/acme', { as: 'admin' }), 405, 'method-not-allowed');
    await refused(
      await call('GET', '/acme', { as: 'admin', query: 'boxId=2' }),
      400,
      'bad-input',
      'Unknown query parameter "boxId"; this resource takes none.',
    );
    const proto = await call('POST', '/login', {
      raw: '{"__proto__": {"admin": true}, "username": "a", "password": "b"}',
    });
    await refused(proto, 400, 'bad-input', /^Unknown field "__proto__"/);

    // A small fuzz: odd JSON values into every route that takes a body.
    type JsonBody = { content?: Record<string, { schema?: { $ref?: string; required?: string[] } }> };
    const schemas = (doc.doc as { components?: { schemas?: Record<string, { required?: string[] }> } })
      .components?.schemas;
    /** The fields a route's JSON body must have (from the document: the schema or the one it refers to). */
    const requiredFields = (body: unknown): string[] => {
      const s = (body as JsonBody).content?.['application/json']?.schema;
      const named = s?.$ref ? schemas?.[s.$ref.split('/').pop()!] : s;
      return named?.required ?? [];
    };
    const isEmptyObject = (v: unknown) =>
      typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
    const values: unknown[] = [
      null,
      true,
      0,
      -1,
      1e308,
      '',
      'x'.repeat(5000),
      [],
      {},
      { a: { b: [1, { c: null }] } },
      { domain: null },
      { name: {} },
      { pem: [] },
    ];
    for (const [path, item] of Object.entries(doc.doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!op.requestBody || path === '/login') continue;
        for (const v of values) {
          const r = await call(method.toUpperCase(), path, {
            as: 'admin',
            raw: JSON.stringify(v),
            params: { name: 'default-cert' },
          });
          // {} is a valid request where the body requires no field (PUT /snmp: change nothing).
          const emptyIsValid = isEmptyObject(v) && !requiredFields(op.requestBody).length && r.status < 300;
          t.ok(
            (r.status >= 400 && r.status < 500) || emptyIsValid,
            `${method} ${path} ${JSON.stringify(v).slice(0, 30)} -> ${r.status}`,
          );
        }
      }
    }
  });

  await t.test('roles: each operation refuses the roles below its own, as the CLI does', async (t) => {
    const ranks: Role[] = ['monitor', 'operator', 'admin'];
    for (const [path, item] of Object.entries(doc.doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const min = op['x-min-role'];
        if (!min) continue;
        for (const role of ranks.slice(0, ranks.indexOf(min))) {
          const before = audits.length;
          const r = await call(method.toUpperCase(), path, {
            as: role,
            body: {},
            params: { name: 'default-cert', host: '127.0.0.1' },
          });
          t.same(
            [r.status, r.json?.detail],
            [403, 'Permission denied.'],
            `${role} may not ${op.operationId}`,
          );
          t.equal(audits.length, before, 'and nothing changed');
        }
      }
    }
  });

  await t.test('audit: every change over REST names the user and "rest <ip>:<port>"', async (t) => {
    // The test's own direct Box calls (source "test") are not REST changes.
    const rest = audits.filter((a) => a.actor.source !== ADMIN.source);
    t.ok(rest.length > 10);
    for (const a of rest) t.match(a.actor.source, /^rest 127\.0\.0\.1:\d+$/, a.action);
    const byAction = (re: RegExp) => audits.find((a) => re.test(a.action));
    t.same(byAction(/^crypto certificate acme issue/)?.actor.user, 'admin');
    t.same(byAction(/^crypto certificate name lab public-cert/)?.actor.user, 'op');
    t.same(byAction(/^crypto mode fips/)?.actor.user, 'admin');
  });

  await t.test('no private key ever leaves the box', async (t) => {
    for (const template of ['/certificates', '/ca-list', '/web/certificate', '/acme', '/system']) {
      t.notMatch((await call('GET', template, { as: 'admin' })).text, /PRIVATE KEY|keyPem/, template);
    }
  });

  t.test('every operation of the document answered 2xx somewhere above', async (t) => {
    const all = Object.values(doc.doc.paths).flatMap((item) =>
      Object.values(item).map((op) => op.operationId),
    );
    // A status stream never ends, so no request here waits for it: test/e2e/web-gui.test.ts follows it.
    const streams = new Set(['getAcmeEvents']);
    t.same(
      all.filter((id) => !doc.covered.has(id) && !streams.has(id)),
      [],
    );
  });
});

t.test('sessions expire (idle and absolute), follow role changes, and end with the user', async (t) => {
  const clock = new ManualClock(Date.now());
  const { box, call } = await startBox(t, { clock, sessions: { idleMs: 60_000, maxAgeMs: 150_000 } });
  const login = async (user: string, password: string) => ({
    token: (await call('POST', '/login', { body: { username: user, password } })).json.token as string,
  });

  const a = await login('op', OP_PW);
  clock.advance(59_000);
  t.equal((await call('GET', '/session', { as: a })).status, 200, 'used within the idle time');
  clock.advance(59_000);
  t.equal((await call('GET', '/session', { as: a })).status, 200, 'idle time slides');
  clock.advance(40_000);
  t.equal(
    (await call('GET', '/session', { as: a })).status,
    401,
    'gone after the absolute limit, used or not',
  );

  const b = await login('op', OP_PW);
  clock.advance(61_000);
  t.equal((await call('GET', '/session', { as: b })).status, 401, 'gone after the idle time');

  const c = await login('op', OP_PW);
  box.setUserCapability(ADMIN, 'op', 'monitor');
  t.equal(
    (await call('POST', '/system/write-memory', { as: c })).status,
    403,
    'a demotion applies to the next request',
  );
  box.removeUser(ADMIN, 'op');
  t.equal((await call('GET', '/session', { as: c })).status, 401, "a removed user's session ends");
});

t.test('at most maxSessions live sessions per box: the oldest goes', async (t) => {
  const { call } = await startBox(t, { sessions: { maxSessions: 2 } });
  const login = async () => ({
    token: (await call('POST', '/login', { body: { username: 'mon', password: MON_PW } })).json
      .token as string,
  });
  const [s1, s2, s3] = [await login(), await login(), await login()];
  t.equal((await call('GET', '/session', { as: s1 })).status, 401);
  t.equal((await call('GET', '/session', { as: s2 })).status, 200);
  t.equal((await call('GET', '/session', { as: s3 })).status, 200);
});

t.test(
  'HTTP Basic is only ever sent over verified TLS: a client that does not trust the box stops before sending it',
  async (t) => {
    const { https } = await startBox(t);
    const err = await new Promise<Error>((resolve) => {
      const s = connect({ host: ADDRESS, port: https }, () => resolve(new Error('connected without trust')));
      s.once('error', resolve);
    });
    t.match(err.message, /self[- ]signed/i);
  },
);
