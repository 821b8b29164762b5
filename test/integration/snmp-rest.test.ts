/**
 * The SNMP settings over the box's REST API, as a manager sets them: over
 * HTTPS (the box's own certificate as the only CA, its IP SAN checked), a
 * community and sysContact/sysLocation set by REST and read back by
 * net-snmp's snmpget from the box's agent; the community and v3
 * passphrases never in a response; an operator refused for the agent's
 * credentials and a monitor for any change; bounded input refused.
 */
import { mkdtempSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Cluster } from '../../src/device/cluster.js';
import type { Actor } from '../../src/device/roles.js';
import { FileFirmwareCatalog } from '../../src/firmware/catalog.js';
import { BoxHost } from '../../src/host/box-host.js';
import { SystemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { netSnmpTool } from '../harness/net-snmp-tools.js';

const ADDR = '127.0.0.124';
const PASSWORD = 'Adm1n-rest-pw';
const SETUP: Actor = { user: 'admin', role: 'admin', source: 'test setup' };

const snmpget = (args: string[]) => netSnmpTool('snmpget', args);

t.test('SNMP settings by REST, read back with snmpget', async (t) => {
  const catalog = new FileFirmwareCatalog();
  const host = await BoxHost.start({
    boxId: 1,
    hostname: 'rest-snmp',
    address: ADDR,
    ports: { ssh: 0, cli: 0, https: 0, http: 0, snmp: 0 },
    dataDir: mkdtempSync(join(tmpdir(), 'gvos-snmp-rest-')),
    adminPassword: PASSWORD,
    firmware: catalog.latest().version,
    model: 'GigaVUE-HC2',
    cryptoMode: 'secure-crypto',
    seed: 'snmp-rest',
    clock: new SystemClock(),
    logger: silentLogger,
    cluster: new Cluster('snmp-rest'),
    catalog,
  });
  t.teardown(() => host.stop());
  const ca = host.box.webCredentials().certPem;
  for (const [user, role] of [
    ['op1', 'operator'],
    ['mon1', 'monitor'],
  ] as const) {
    host.box.setUserPassword(SETUP, user, `${user}-pass-word`);
    host.box.setUserCapability(SETUP, user, role);
  }

  /** One request over HTTPS trusting only the box's certificate. */
  const api = (user: string, method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; json: Record<string, unknown>; text: string }>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const password = user === 'admin' ? PASSWORD : `${user}-pass-word`;
      const req = request(
        {
          host: ADDR,
          port: host.ports.https,
          method,
          path: `/api/v1${path}`,
          ca,
          agent: false,
          headers: {
            Authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64'),
            ...(payload
              ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) }
              : {}),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () =>
            resolve({
              status: res.statusCode!,
              text,
              json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
            }),
          );
        },
      );
      req.once('error', reject);
      req.end(payload);
    });

  const agent = `${ADDR}:${host.ports.snmp}`;
  const sys = ['1.3.6.1.2.1.1.4.0', '1.3.6.1.2.1.1.5.0', '1.3.6.1.2.1.1.6.0'];
  t.match(
    await snmpget(['-v2c', '-c', 'rest-ro-42', agent, ...sys]),
    /Timeout/,
    'nothing configured: no answer',
  );

  // An operator may not set the agent's credentials; a monitor may change nothing.
  const opComm = await api('op1', 'PUT', '/snmp/communities', { communities: ['rest-ro-42'] });
  t.equal(opComm.status, 403, 'operator refused for communities');
  t.equal(opComm.json.code, 'permission-denied');
  const opUser = await api('op1', 'PUT', '/snmp/users/mgr', {
    auth: { protocol: 'sha256', password: 'auth-pass-123' },
  });
  t.equal(opUser.status, 403, 'operator refused for v3 users');
  t.equal((await api('mon1', 'PUT', '/snmp', { contact: 'x' })).status, 403, 'monitor refused');
  t.equal((await api('mon1', 'GET', '/snmp')).status, 200, 'monitor reads');
  t.same(host.box.config.snmp.communities ?? [], [], 'no community came in through a refusal');

  // The operator turns SNMP on and sets contact and location; the admin sets the community.
  const put = await api('op1', 'PUT', '/snmp', {
    enabled: true,
    contact: 'NOC <noc@lab.test>',
    location: 'Lab rack 7',
  });
  t.equal(put.status, 200, put.text);
  t.match(put.json, { enabled: true, contact: 'NOC <noc@lab.test>', location: 'Lab rack 7' });
  const comm = await api('admin', 'PUT', '/snmp/communities', { communities: ['rest-ro-42'] });
  t.equal(comm.status, 200, comm.text);
  t.same(comm.json.communities, ['********'], 'the community is masked in the answer');
  t.notMatch(comm.text, /rest-ro-42/);

  const got = await snmpget(['-v2c', '-c', 'rest-ro-42', agent, ...sys]);
  t.match(got, /\.1\.3\.6\.1\.2\.1\.1\.4\.0 = STRING: "NOC <noc@lab.test>"/, 'sysContact set by REST');
  t.match(got, /\.1\.3\.6\.1\.2\.1\.1\.5\.0 = STRING: "rest-snmp"/);
  t.match(got, /\.1\.3\.6\.1\.2\.1\.1\.6\.0 = STRING: "Lab rack 7"/, 'sysLocation set by REST');

  // A v3 user by REST; snmpget authenticates with it; the passphrases never come back.
  const user = await api('admin', 'PUT', '/snmp/users/mgr', {
    auth: { protocol: 'sha256', password: 'auth-pass-123' },
    priv: { protocol: 'aes-128', password: 'priv-pass-456' },
  });
  t.equal(user.status, 200, user.text);
  t.same(user.json.users, [{ name: 'mgr', securityLevel: 'authPriv', auth: 'sha256', priv: 'aes-128' }]);
  const read = await api('mon1', 'GET', '/snmp');
  t.notMatch(read.text, /rest-ro-42|auth-pass-123|priv-pass-456/, 'no secret in GET /snmp');
  const v3 = await snmpget([
    ...['-v3', '-l', 'authPriv', '-u', 'mgr', '-a', 'SHA-256', '-A', 'auth-pass-123'],
    ...['-x', 'AES', '-X', 'priv-pass-456', agent, '1.3.6.1.2.1.1.6.0'],
  ]);
  t.match(v3, /STRING: "Lab rack 7"/, 'v3 user set by REST answers');

  // Bounded input: an over-long contact, too many communities, a bad port, an unknown field.
  const tooLong = await api('op1', 'PUT', '/snmp', { contact: 'x'.repeat(256) });
  t.equal(tooLong.status, 400);
  const many = Array.from({ length: 17 }, (_, i) => `c${i}`);
  t.equal((await api('admin', 'PUT', '/snmp/communities', { communities: many })).status, 400);
  t.equal((await api('admin', 'PUT', '/snmp/communities', { communities: ['has space'] })).status, 400);
  t.equal((await api('op1', 'PUT', '/snmp', { agentPort: 70000 })).status, 400);
  t.equal((await api('op1', 'PUT', '/snmp', { contact: 'ok', extra: 1 })).status, 400);
  t.equal(host.box.config.snmp.contact, 'NOC <noc@lab.test>', 'refused updates changed nothing');

  // Removing the community by REST: v2c gets no answer again.
  t.equal((await api('admin', 'PUT', '/snmp/communities', { communities: [] })).status, 200);
  t.match(await snmpget(['-v2c', '-c', 'rest-ro-42', agent, sys[0]!]), /Timeout/, 'community removed');
  t.equal((await api('admin', 'DELETE', '/snmp/users/mgr')).status, 204);
  t.equal((await api('admin', 'DELETE', '/snmp/users/mgr')).status, 404);
});
