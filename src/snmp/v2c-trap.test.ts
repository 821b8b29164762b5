// The v2c trap path without a net-snmp session (v2c-trap.ts): the octets
// are those net-snmp's encoder writes for the same message (net-snmp's own
// session sends the reference datagram; its request-id is read back and
// used here), values a type cannot hold are refused, and the socket lives
// only while a burst is out: one source port per burst, the box's address,
// no file descriptor left afterwards. A real snmptrapd decodes these traps
// in test/integration/snmp-*.test.ts (v2c targets).
import t, { type Test } from 'tap';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readdirSync } from 'node:fs';
import snmp from 'net-snmp';
import type { SnmpTarget } from '../device/model.js';
import { silentLogger } from '../lib/logger.js';
import { v2cTargetAt } from '../../test/harness/snmp-target.js';
import { openUdpSockets } from '../../test/harness/udp-handles.js';
import type { SenderSpec } from './sender-spec.js';
import { encodeV2cTrap, createV2cTrapSender } from './v2c-trap.js';
import {
  bootNotification,
  certificateNotification,
  gigamonNotification,
  testNotification,
  type Notification,
} from './varbinds.js';

interface Datagram {
  msg: Buffer;
  from: RemoteInfo;
}

async function listener(
  t: Test,
  host = '127.0.0.1',
): Promise<{ port: number; next: () => Promise<Datagram> }> {
  const sock: Socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const got: Datagram[] = [];
  const waiters: ((d: Datagram) => void)[] = [];
  sock.on('message', (msg, from) =>
    waiters.length ? waiters.shift()!({ msg, from }) : got.push({ msg, from }),
  );
  await new Promise<void>((r) => sock.bind(0, host, r));
  t.teardown(() => sock.close());
  return {
    port: sock.address().port,
    next: () => (got.length ? Promise.resolve(got.shift()!) : new Promise((r) => waiters.push(r))),
  };
}

/** The request-id of a v2c message: message SEQUENCE > version, community, PDU > request-id (short lengths only). */
function requestIdOf(b: Buffer): number {
  let p = 0;
  const skipHeader = () => {
    p++; // tag
    const len = b[p++]!;
    if (len & 0x80) p += len & 0x7f;
  };
  const skipTlv = () => {
    p++;
    let len = b[p++]!;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + b[p++]!;
    }
    p += len;
  };
  skipHeader(); // message
  skipTlv(); // version
  skipTlv(); // community
  skipHeader(); // PDU
  p++; // INTEGER
  const len = b[p++]!;
  return b.readIntBE(p, len);
}

const TYPES = { OctetString: 4, Integer: 2, OID: 6 } as const;

/** What net-snmp's own v2c session puts on the wire for `n`. */
async function netSnmpOctets(t: Test, community: string, n: Notification): Promise<Buffer> {
  const rx = await listener(t);
  const session = snmp.createSession('127.0.0.1', community, {
    version: snmp.Version2c,
    port: rx.port,
    trapPort: rx.port,
    // Bound on loopback: an unbound socket's first send binds it to every address (0.0.0.0).
    sourceAddress: '127.0.0.1',
  });
  t.teardown(() => session.close());
  await new Promise<void>((resolve, reject) =>
    session.trap(
      n.trapOid,
      n.varbinds.map((v) => ({ oid: v.oid, type: TYPES[v.type], value: v.value })),
      { upTime: Math.max(1, n.upTimeTicks) },
      (err) => (err ? reject(err) : resolve()),
    ),
  );
  return (await rx.next()).msg;
}

const box = { boxId: 7, hostname: 'box7', model: 'GigaVUE-HC2' };
const cert = {
  domain: 'box7.lab.test',
  serial: '0123456789ABCDEF',
  expiresMs: Date.UTC(2027, 2, 4, 5, 6, 7),
};
const long = 'x'.repeat(250);
const n = (over: Partial<Notification>, base = testNotification(box, 1234)): Notification => ({
  ...base,
  ...over,
});

const sameAsNetSnmp: { name: string; community?: string; n: Notification }[] = [
  { name: 'cert-issued', n: certificateNotification('cert-issued', box, cert, 987_650) },
  {
    name: 'cert-renewed',
    n: certificateNotification('cert-renewed', box, { ...cert, previousSerial: '0A' }, 10),
  },
  {
    name: 'cert-renewal-failed, a 255-octet reason (two-octet lengths)',
    n: certificateNotification('cert-renewal-failed', box, { ...cert, reason: long + long }, 0),
  },
  {
    name: 'cert-revoked',
    n: certificateNotification('cert-revoked', box, { ...cert, reason: 'superseded' }, 5),
  },
  {
    name: 'cert-expiring-soon',
    n: certificateNotification('cert-expiring-soon', box, { ...cert, daysLeft: 3 }, 5),
  },
  { name: 'coldStart: an OID-valued snmpTrapEnterprise.0', n: bootNotification('cold', box, '6.10', 0) },
  {
    name: 'a Gigamon notification, a UTF-8 user name',
    n: gigamonNotification({ kind: 'auth-fail', user: 'jürgen-日本', source: '127.0.0.9' }, box, 77),
  },
  { name: 'a UTF-8 community', community: 'pübl1c', n: testNotification(box, 1) },
  {
    name: 'integers at the edges of Integer32 and of each length',
    n: n({
      varbinds: [
        -2147483648, -129, -128, -1, 0, 127, 128, 200, 255, 256, 32767, 32768, 8388608, 2147483647,
      ].map((value, i) => ({ oid: `1.3.6.1.4.1.26866.999.1.${i + 1}.0`, type: 'Integer' as const, value })),
    }),
  },
  { name: 'sysUpTime past 2^31 ticks (five octets)', n: n({ upTimeTicks: 2 ** 31 + 5 }) },
  { name: 'sysUpTime 2^32-1 ticks', n: n({ upTimeTicks: 2 ** 32 - 1 }) },
  {
    name: 'OID arcs needing 2-5 base-128 octets',
    n: n({
      trapOid: '1.3.6.1.4.1.128.16383.16384.2097151.268435455.268435456.4294967295',
      varbinds: [{ oid: '1.3.6.1.4.1.26866.999.1.1.0', type: 'OID', value: '1.3.127.128' }],
    }),
  },
  { name: 'no objects', n: n({ varbinds: [] }) },
  {
    name: 'an empty string',
    n: n({ varbinds: [{ oid: '1.3.6.1.4.1.1.0', type: 'OctetString', value: '' }] }),
  },
];
for (const r of sameAsNetSnmp) {
  t.test(`the octets net-snmp writes: ${r.name}`, async (t) => {
    const community = r.community ?? 'public';
    const reference = await netSnmpOctets(t, community, r.n);
    const ours = encodeV2cTrap(community, requestIdOf(reference), r.n);
    t.equal(ours.toString('hex'), reference.toString('hex'));
  });
}

t.test('a message longer than 255 octets has a two-octet length (and still matches)', async (t) => {
  const big = n({
    varbinds: Array.from({ length: 6 }, (_, i) => ({
      oid: `1.3.6.1.4.1.26866.999.1.${i}.0`,
      type: 'OctetString' as const,
      value: long,
    })),
  });
  const reference = await netSnmpOctets(t, 'public', big);
  const ours = encodeV2cTrap('public', requestIdOf(reference), big);
  t.equal(ours[1], 0x82, 'long-form length, two octets');
  t.same(ours, reference);
});

t.test('values their type cannot hold are refused, not sent wrong', async (t) => {
  const oid = '1.3.6.1.4.1.1.0';
  t.throws(
    () => encodeV2cTrap('c', 1, n({ varbinds: [{ oid, type: 'Integer', value: 2 ** 31 }] })),
    /Integer32/,
  );
  t.throws(() => encodeV2cTrap('c', 1, n({ varbinds: [{ oid, type: 'Integer', value: 1.5 }] })), /Integer32/);
  t.throws(
    () => encodeV2cTrap('c', 1, n({ varbinds: [{ oid, type: 'OID', value: 'not.an.oid' }] })),
    /not an OID/,
  );
  t.throws(() => encodeV2cTrap('c', 1, n({ trapOid: '1.3.6.1.4.1.4294967296' })), /out of range/);
  t.throws(() => encodeV2cTrap('c', 1, n({ trapOid: '3.1' })), /not an OID/);
  t.throws(() => encodeV2cTrap('c', 1, n({ upTimeTicks: 2 ** 32 })), /TimeTicks/);
  t.throws(() => encodeV2cTrap('c', 2 ** 31, n({})), /request-id/);
  const huge = n({
    varbinds: Array.from({ length: 300 }, () => ({ oid, type: 'OctetString' as const, value: long })),
  });
  t.throws(() => encodeV2cTrap('c', 1, huge), /too large/);
  // The shared writer is usable after a refusal.
  const ok = n({});
  t.same(encodeV2cTrap('c', 1, ok), encodeV2cTrap('c', 1, ok));
});

// ---- the socket

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

function spec(port: number, over: Partial<SnmpTarget> = {}, sourceAddress?: string): SenderSpec {
  return {
    target: { ...v2cTargetAt({ host: '127.0.0.1', port }, 'traps', 100), ...over },
    engine: { engineId: () => '80', engineBoots: () => 1, engineTime: () => 1 },
    agentAddr: '',
    ...(sourceAddress ? { sourceAddress } : {}),
  };
}

t.test(
  'a burst leaves from one socket on the box address and closes it; the next burst opens another',
  async (t) => {
    const rx = await listener(t);
    const s = createV2cTrapSender(spec(rx.port, {}, '127.0.0.93'), silentLogger);
    t.teardown(() => s.close());
    const before = openFds();
    const burst = Promise.all(Array.from({ length: 10 }, (_, i) => s.trap(testNotification(box, i * 100))));
    await burst;
    t.equal(openFds(), before, 'no socket held once the burst is handed to the kernel');
    const got = await Promise.all(Array.from({ length: 10 }, () => rx.next()));
    t.same(
      new Set(got.map((d) => d.from.address)),
      new Set(['127.0.0.93']),
      'every trap from the box address',
    );
    t.equal(new Set(got.map((d) => d.from.port)).size, 1, 'one source port for the burst');
    await s.trap(testNotification(box, 1));
    t.equal(openFds(), before, 'the next burst closed its socket too');
    t.equal((await rx.next()).from.address, '127.0.0.93');
  },
);

// A source address the socket cannot bind, without leaving loopback: in
// 127.0.0.0/8 every address binds, so an IPv4 target gets a source of ::1
// and an IPv6 one 127.0.0.1 (EINVAL), the same socket error a box address
// the host does not have gives (EADDRNOTAVAIL). That bind fails before the
// kernel socket exists, so what is left open is counted by UDP handles,
// not file descriptors.
for (const r of [
  { family: 'IPv4', host: '127.0.0.1', source: '::1' },
  { family: 'IPv6', host: '::1', source: '127.0.0.1' },
]) {
  t.test(
    `${r.family}: a source address that cannot bind fails the burst; nothing is left open`,
    async (t) => {
      const rx = await listener(t, r.host);
      const s = createV2cTrapSender(spec(rx.port, { host: r.host }, r.source), silentLogger);
      const before = await openUdpSockets();
      const burst = [s.trap(testNotification(box, 1)), s.trap(testNotification(box, 2))];
      for (const p of burst) await t.rejects(p, /EINVAL/, "fails with the socket's error (not a timeout)");
      t.equal(await openUdpSockets(), before, 'the socket is closed');
      await t.rejects(
        s.trap(testNotification(box, 3)),
        /EINVAL/,
        'the next burst gets a fresh socket, and fails too',
      );
      t.equal(await openUdpSockets(), before, 'that socket is closed too');
      s.close();
    },
  );
}

t.test('close() during a burst fails what is pending and closes the socket', async (t) => {
  const rx = await listener(t);
  const s = createV2cTrapSender(spec(rx.port, {}, '127.0.0.93'), silentLogger);
  const before = openFds();
  const p = s.trap(testNotification(box, 1));
  s.close();
  await t.rejects(p, /stopped/);
  t.equal(openFds(), before);
  t.doesNotThrow(() => s.close(), 'close twice is harmless');
});

t.test('an IPv6 target gets a udp6 socket', async (t) => {
  const rx = await listener(t, '::1');
  const s = createV2cTrapSender(spec(rx.port, { host: '::1' }, '::1'), silentLogger);
  t.teardown(() => s.close());
  await s.trap(testNotification(box, 1));
  const d = await rx.next();
  t.equal(d.from.address, '::1');
  t.equal(requestIdOf(d.msg) >= 0, true);
});

t.test('inform() is refused: an informs target uses net-snmp', async (t) => {
  const s = createV2cTrapSender(spec(1), silentLogger);
  await t.rejects(s.inform(testNotification(box, 1), 100), /no informs/);
});
