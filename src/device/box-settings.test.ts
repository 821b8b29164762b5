// The one change path (box-core.ts: setting/stored): every operator change
// is audited with the command as the CLI spells it, refused changes leave
// nothing changed and nothing audited, and what only the ACME agent may do
// is not on the Box the CLI and the REST API hold.
import t from 'tap';
import { ADMIN, MONITOR, OPERATOR, makeTestBox } from '../../test/harness/boxes.js';
import type { Box } from './box.js';
import type { DeviceEvents } from './events.js';

function record(box: Box) {
  const audits: string[] = [];
  const sections: string[] = [];
  box.events.on('audit', (a: DeviceEvents['audit']) => audits.push(`${a.actor.user}: ${a.action}`));
  box.events.on('config-changed', (c: DeviceEvents['config-changed']) => sections.push(c.section));
  return { audits, sections };
}

// name, change, the audit line, the config-changed section (undefined: persisted at once, no event)
const changes: [string, (b: Box) => unknown, string, string | undefined][] = [
  ['hostname', (b) => b.setHostname(OPERATOR, 'edge-1'), 'op: hostname edge-1', 'system'],
  ['name server', (b) => b.addNameServer(OPERATOR, '10.0.0.53'), 'op: ip name-server 10.0.0.53', 'system'],
  [
    'domain list',
    (b) => b.addDomainListEntry(OPERATOR, 'Lab.Test.'),
    'op: ip domain-list lab.test',
    'system',
  ],
  ['crypto mode', (b) => b.setCryptoMode(ADMIN, 'fips'), 'admin: crypto mode fips', 'crypto'],
  [
    'user',
    (b) => b.setUserPassword(ADMIN, 'u1', 'pw-u1-long'),
    'admin: username u1 password ********',
    'users',
  ],
  ['snmp enable', (b) => b.snmpEnable(OPERATOR, true), 'op: snmp-server enable', 'snmp'],
  ['snmp notify', (b) => b.snmpNotifyEnable(OPERATOR, false), 'op: no snmp-server enable notify', 'snmp'],
  [
    'snmp event',
    (b) => b.snmpSetEvent(OPERATOR, 'cold-start', false),
    'op: no snmp-server notify event cold-start',
    'snmp',
  ],
  [
    'snmp expiring-soon days (lost its audit line before the split)',
    (b) => b.snmpSetExpiringSoonDays(OPERATOR, 14),
    'op: snmp-server notify expiring-soon-days 14',
    'snmp',
  ],
  ['write memory', (b) => b.writeMemory(OPERATOR), 'op: write memory', undefined],
];

for (const [name, change, line, section] of changes) {
  t.test(`${name}: one audit line`, async (t) => {
    const { box } = await makeTestBox();
    const { audits, sections } = record(box);
    await change(box);
    t.same(audits, [line]);
    t.same(sections, section === undefined ? [] : [section]);
  });
}

t.test('the expiring-soon days are set and audited once per change', async (t) => {
  const { box } = await makeTestBox();
  const { audits } = record(box);
  box.snmpSetExpiringSoonDays(OPERATOR, 30);
  t.equal(box.config.snmp.expiringSoonDays, 30);
  t.same(audits, ['op: snmp-server notify expiring-soon-days 30']);
});

t.test('a refused change leaves the config as it was and audits nothing', async (t) => {
  const { box } = await makeTestBox();
  const { audits, sections } = record(box);
  const before = structuredClone(box.config);
  t.throws(() => box.snmpSetExpiringSoonDays(MONITOR, 14), { code: 'permission-denied' });
  t.throws(() => box.snmpSetExpiringSoonDays(OPERATOR, 0), { code: 'bad-input' });
  t.throws(() => box.setHostname(OPERATOR, '-bad'), { code: 'bad-input' });
  for (const ns of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) box.addNameServer(OPERATOR, ns);
  audits.length = 0;
  sections.length = 0;
  const three = structuredClone(box.config);
  t.throws(() => box.addNameServer(OPERATOR, '10.0.0.4'), { code: 'bad-input' });
  t.same(box.config, three, 'a fourth name server is refused whole');
  box.addNameServer(OPERATOR, '10.0.0.1');
  t.same(audits, [], 'a name server already there: no change, no audit');
  t.same(sections, []);
  t.not(before.nameServers.length, three.nameServers.length);
});

t.test('a setting replaces the running config, never changes a copy someone holds', async (t) => {
  const { box } = await makeTestBox();
  const held = box.config;
  box.setHostname(OPERATOR, 'edge-2');
  t.equal(held.hostname, 'box1', 'the old view is unchanged');
  t.equal(box.config.hostname, 'edge-2');
});

t.test('the ACME agent methods are not on the Box (only the agent port has them)', async (t) => {
  const { box } = await makeTestBox();
  for (const m of [
    'acmeBegin',
    'acmeFinish',
    'installAcmeCertificate',
    'updateAcmeIssued',
    'removeAcmeCertificate',
    'mapWebToDefault',
    'acmeCertificate',
    'acmeAccount',
    'saveAcmeAccount',
  ]) {
    t.notOk(m in box, m);
  }
  t.same(Object.keys(box), [], 'no public field leads to the state');
});

t.test(
  'write memory raises config-saved itself, once per successful save, never on a failed one',
  async (t) => {
    const { box, store } = await makeTestBox();
    const saved: DeviceEvents['config-saved'][] = [];
    box.events.on('config-saved', (e: DeviceEvents['config-saved']) => saved.push(e));
    await box.writeMemory(OPERATOR);
    t.same(saved, [{ boxId: box.boxId, user: 'op', fileName: 'initial' }], 'saved by op');
    store.failWith = new Error('ENOSPC: no space left on device');
    await t.rejects(box.writeMemory(ADMIN), { code: 'storage' });
    t.equal(saved.length, 1, 'a failed write is no save');
    store.failWith = undefined;
    await t.rejects(box.writeMemory(MONITOR), { code: 'permission-denied' });
    t.equal(saved.length, 1, 'a refused write is no save');
  },
);
