import t from 'tap';
import {
  COLD_START,
  GVOS_SIM_OID,
  NOTIFICATIONS,
  OBJECTS,
  SNMP_TRAP_ENTERPRISE_0,
  SNMP_TRAPS,
  WARM_START,
} from './oids.js';
import {
  bootNotification,
  certificateNotification,
  isoUtc,
  safeText,
  testNotification,
  toV1Trap,
  upTimeTicks,
  type CertificateFacts,
  type CertificateKind,
} from './varbinds.js';

const box = { boxId: 3, hostname: 'box3', model: 'GigaVUE-HC2' };
const cert: CertificateFacts = {
  domain: 'box3.lab.test',
  serial: '0AFF',
  expiresMs: Date.UTC(2026, 2, 1),
  reason: 'superseded',
  previousSerial: '0AEE',
  daysLeft: 6,
};
const common = [OBJECTS.hardwareName, OBJECTS.level, OBJECTS.description, OBJECTS.boxId, OBJECTS.hostname];
const certCommon = [...common, OBJECTS.domain, OBJECTS.certSerial, OBJECTS.certExpiry];

// One row per certificate event: the objects in MIB OBJECTS order and the level.
const rows: { name: string; kind: CertificateKind; objects: string[]; level: number; describes: RegExp }[] = [
  { name: 'issued', kind: 'cert-issued', objects: certCommon, level: 1, describes: /issued, serial 0AFF/ },
  {
    name: 'renewed carries the previous serial',
    kind: 'cert-renewed',
    objects: [...certCommon, OBJECTS.certPreviousSerial],
    level: 1,
    describes: /0AEE replaced by 0AFF/,
  },
  {
    name: 'renewal failed carries the reason',
    kind: 'cert-renewal-failed',
    objects: [...certCommon, OBJECTS.reason],
    level: 3,
    describes: /failed: superseded/,
  },
  {
    name: 'revoked carries the reason',
    kind: 'cert-revoked',
    objects: [...certCommon, OBJECTS.reason],
    level: 2,
    describes: /revoked/,
  },
  {
    name: 'cleared carries the reason',
    kind: 'cert-cleared',
    objects: [...certCommon, OBJECTS.reason],
    level: 1,
    describes: /cleared/,
  },
  {
    name: 'expiring soon carries days left',
    kind: 'cert-expiring-soon',
    objects: [...certCommon, OBJECTS.certDaysLeft],
    level: 3,
    describes: /expires in 6 days/,
  },
];
for (const r of rows) {
  t.test(`certificate notification: ${r.name}`, async (t) => {
    const n = certificateNotification(r.kind, box, cert, 12_345);
    t.equal(n.trapOid, NOTIFICATIONS[r.kind].oid);
    t.same(
      n.varbinds.map((v) => v.oid),
      r.objects,
    );
    const value = (oid: string) => n.varbinds.find((v) => v.oid === oid)?.value;
    t.equal(value(OBJECTS.level), r.level);
    t.equal(value(OBJECTS.hardwareName), 'GigaVUE-HC2');
    t.equal(value(OBJECTS.boxId), 3);
    t.equal(value(OBJECTS.certExpiry), '2026-03-01T00:00:00Z');
    t.match(String(value(OBJECTS.description)), r.describes);
    t.equal(n.upTimeTicks, 1234, 'hundredths of a second');
  });
}

t.test('boot notifications: the standard OIDs, with snmpTrapEnterprise.0 = gvosSimMIB', async (t) => {
  const cold = bootNotification('cold', box, '6.10.00', 0);
  const warm = bootNotification('warm', box, '6.10.00', 0);
  t.equal(cold.trapOid, COLD_START);
  t.equal(warm.trapOid, WARM_START);
  t.same(
    cold.varbinds.map((v) => v.oid),
    [...common, SNMP_TRAP_ENTERPRISE_0],
  );
  t.same(cold.varbinds.at(-1), { oid: SNMP_TRAP_ENTERPRISE_0, type: 'OID', value: GVOS_SIM_OID });
  t.match(String(warm.varbinds[2]!.value), /reloaded \(warm start\), firmware 6\.10\.00/);
});

t.test('test notification: gvosSimTest with the common objects', async (t) => {
  const n = testNotification(box, 0);
  t.equal(n.trapOid, `${GVOS_SIM_OID}.0.7`);
  t.same(
    n.varbinds.map((v) => v.oid),
    common,
  );
});

// RFC 3584 §3.2: SNMPv2 notification -> SNMPv1 trap.
const v1Rows: {
  name: string;
  n: ReturnType<typeof testNotification>;
  enterprise: string;
  generic: number;
  specific: number;
  varbinds: number;
}[] = [
  {
    name: 'an enterprise notification X.0.N -> enterprise X, generic 6, specific N',
    n: certificateNotification('cert-revoked', box, cert, 0),
    enterprise: GVOS_SIM_OID,
    generic: 6,
    specific: 4,
    varbinds: 9,
  },
  {
    name: 'the test notification -> specific 7',
    n: testNotification(box, 0),
    enterprise: GVOS_SIM_OID,
    generic: 6,
    specific: 7,
    varbinds: 5,
  },
  {
    name: 'coldStart -> generic 0, enterprise from snmpTrapEnterprise.0 (which leaves the varbinds)',
    n: bootNotification('cold', box, 'v', 0),
    enterprise: GVOS_SIM_OID,
    generic: 0,
    specific: 0,
    varbinds: 5,
  },
  {
    name: 'warmStart -> generic 1',
    n: bootNotification('warm', box, 'v', 0),
    enterprise: GVOS_SIM_OID,
    generic: 1,
    specific: 0,
    varbinds: 5,
  },
  {
    name: 'a standard trap without snmpTrapEnterprise.0 -> enterprise snmpTraps',
    n: { kind: 'cold-start', trapOid: COLD_START, varbinds: [], upTimeTicks: 0 },
    enterprise: SNMP_TRAPS,
    generic: 0,
    specific: 0,
    varbinds: 0,
  },
  {
    name: 'an OID whose next-to-last sub-id is not 0 drops only the last',
    n: { kind: 'test', trapOid: '1.3.6.1.4.1.99.5.3', varbinds: [], upTimeTicks: 0 },
    enterprise: '1.3.6.1.4.1.99.5',
    generic: 6,
    specific: 3,
    varbinds: 0,
  },
];
for (const r of v1Rows) {
  t.test(`v1 mapping: ${r.name}`, async (t) => {
    const v1 = toV1Trap(r.n);
    t.equal(v1.enterprise, r.enterprise);
    t.equal(v1.genericTrap, r.generic);
    t.equal(v1.specificTrap, r.specific);
    t.equal(v1.varbinds.length, r.varbinds);
  });
}

const textRows: { name: string; input: string; want: string }[] = [
  {
    name: 'newlines and tabs become spaces (one receiver line per notification)',
    input: 'a\nb\tc\r\nd',
    want: 'a b c d',
  },
  { name: 'cut to 255 octets', input: 'x'.repeat(300), want: 'x'.repeat(255) },
  { name: 'never splits a multi-byte character', input: 'é'.repeat(200), want: 'é'.repeat(127) },
  { name: 'never splits a 3-octet character', input: `a${'€'.repeat(100)}`, want: `a${'€'.repeat(84)}` },
  {
    name: 'never splits a 4-octet character (no lone surrogate)',
    input: `abc${'😀'.repeat(70)}`,
    want: `abc${'😀'.repeat(63)}`,
  },
  { name: '85 three-octet characters fit exactly', input: '€'.repeat(85), want: '€'.repeat(85) },
  {
    name: 'a control run inside a long text, then the cut',
    input: `${'x'.repeat(250)}\n\n${'y'.repeat(9)}`,
    want: `${'x'.repeat(250)} ${'y'.repeat(4)}`,
  },
  {
    name: 'a 1 MB reason is cut to 255 octets (at once: the cut is not a loop per character)',
    input: 'z'.repeat(1 << 20),
    want: 'z'.repeat(255),
  },
];
for (const r of textRows) {
  t.test(`safeText: ${r.name}`, async (t) => {
    t.equal(safeText(r.input), r.want);
  });
}

t.test('isoUtc: ISO 8601 UTC without milliseconds, also for years past 9999', async (t) => {
  t.equal(isoUtc(Date.UTC(2027, 2, 4, 5, 6, 7, 890)), '2027-03-04T05:06:07Z');
  t.equal(isoUtc(0), '1970-01-01T00:00:00Z');
  t.equal(isoUtc(Date.UTC(10000, 0, 1)), '+010000-01-01T00:00:00Z');
});

t.test('upTimeTicks wraps at 2^32 (TimeTicks, RFC 2578 §7.1.8)', async (t) => {
  t.equal(upTimeTicks(2 ** 32 * 10 + 50), 5);
  t.equal(upTimeTicks(-5), 0);
});
