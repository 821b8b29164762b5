// A live `gvos-sim lab up` of two boxes as managers see it: each box's agent
// answers net-snmp's snmpget on its own address with its own hostname (the
// community set over the box's REST API, HTTPS verified against the lab CA's
// root), box 2 answers the sysObjectID its topology entry gives, and a
// notification from box 2 reaches the lab's snmptrapd from box 2's address.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { adminHttps } from '../harness/https.js';
import { join } from 'node:path';
import { netSnmpTool } from '../harness/net-snmp-tools.js';
import { ensureBuilt, labSkipReason, startTopologyLab } from './lab-harness.js';

// Its own address block (127.0.12.x), apart from users' labs and other suites.
const BASE = '127.0.12';
const PASSWORD = 'Adm1n-lab-snmp';
const OVERRIDE = '1.3.6.1.4.1.26866.3.4242';
const skip = await labSkipReason([`${BASE}.1`]);

/** One admin request to a box's REST API, trusting only the lab CA's root and checking the box's name. */
async function rest(
  address: string,
  servername: string,
  ca: string,
  method: string,
  path: string,
  body?: unknown,
) {
  const r = await adminHttps({
    host: address,
    port: 443,
    servername,
    ca,
    password: PASSWORD,
    method,
    path: `/api/v1${path}`,
    body,
  });
  return r.status;
}

t.test('two boxes of a live lab: sysName on each address, a trap from box 2', { skip }, async (t) => {
  ensureBuilt();
  const { lab, labs } = await startTopologyLab(t, 'gvos-lab-snmp-', [
    'lab: e2e-snmp',
    `admin-password: ${PASSWORD}`,
    'network:',
    `  address-base: ${BASE}.0`,
    '  address-offset: 0',
    'boxes:',
    '  count: 2',
    '  list:',
    '    - box-id: 2',
    `      sys-object-id: ${OVERRIDE}`,
  ]);
  t.match(lab.stdout(), /lab e2e-snmp is up: 2 boxes/);
  const root = readFileSync(join(labs, 'e2e-snmp', 'ca-root.pem'), 'utf8');

  for (const id of [1, 2]) {
    const address = `${BASE}.${id}`;
    const hostname = `gigavue-${id}`;
    const status = await rest(address, `${hostname}.lab.test`, root, 'PUT', '/snmp/communities', {
      communities: ['lab-ro'],
    });
    t.equal(status, 200, `box ${id}: community set over REST`);
    const got = await netSnmpTool('snmpget', [
      ...['-v2c', '-c', 'lab-ro', `${address}:161`],
      ...['1.3.6.1.2.1.1.5.0', '1.3.6.1.2.1.1.2.0'],
    ]);
    t.match(got, new RegExp(`1\\.5\\.0 = STRING: "${hostname}"`), `box ${id} answers its own hostname`);
    const expected = id === 2 ? OVERRIDE : '1.3.6.1.4.1.26866.3.6';
    t.match(got, `1.2.0 = OID: .${expected}\n`, `box ${id} sysObjectID ${expected}`);
  }

  // write memory on box 2 raises Gigamon's config-save notification; snmptrapd logs its UDP source (%b).
  // (The lab's own configure phase saved each box once already: count from here.)
  const log = join(labs, 'e2e-snmp', 'traps.log');
  const saves = (from: string) =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => /gigamonSnmpConfigSaveNotification|26866\.1\.1\.4\b/.test(l) && l.includes(`[${from}]`))
      .length;
  const before = saves(`${BASE}.2`);
  const before1 = saves(`${BASE}.1`);
  t.equal(await rest(`${BASE}.2`, 'gigavue-2.lab.test', root, 'POST', '/system/write-memory'), 204);
  const until = Date.now() + 20_000;
  while (saves(`${BASE}.2`) === before && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  t.equal(saves(`${BASE}.2`), before + 1, "box 2's config-save notification arrived from box 2's address");
  t.equal(saves(`${BASE}.1`), before1, 'and none more from box 1');
});
