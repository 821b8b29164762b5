// What net-snmp puts on the wire through createNetSnmpSender, decoded from
// the raw datagrams with a small BER reader: the fields net-snmp's API
// cannot set (v1 enterprise/generic/specific, v3 engine boots/time) and
// the RFC 3416 varbind order.
import t, { type Test } from 'tap';
import { createSocket, type Socket } from 'node:dgram';
import type { SnmpTarget, SnmpUser } from '../device/model.js';
import { JsonLogger, silentLogger } from '../lib/logger.js';
import { SystemClock } from '../lib/clock.js';
import { createNetSnmpSender } from './net-snmp-sender.js';
import { senderProblem } from './sender-spec.js';
import type { LocalEngine } from './usm.js';
import { COLD_START, GVOS_SIM_OID, OBJECTS, SNMP_TRAP_OID_0, SYS_UPTIME_0 } from './oids.js';
import { DEFAULT_QUEUE_SETTINGS, InformTimeoutError, TargetQueue, zeroCounters } from './target-queue.js';
import { bootNotification, certificateNotification, testNotification } from './varbinds.js';
import { openUdpSockets } from '../../test/harness/udp-handles.js';

// ---- a minimal BER reader (X.690): enough for SNMP messages
interface Tlv {
  tag: number;
  start: number;
  end: number;
}
function readTlv(b: Buffer, off: number): Tlv & { next: number } {
  const tag = b[off]!;
  let len = b[off + 1]!;
  let p = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p++]!;
  }
  return { tag, start: p, end: p + len, next: p + len };
}
function kids(b: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.start; p < parent.end;) {
    const x = readTlv(b, p);
    out.push(x);
    p = x.next;
  }
  return out;
}
function int(b: Buffer, x: Tlv): number {
  let v = 0;
  for (let i = x.start; i < x.end; i++) v = v * 256 + b[i]!;
  return v;
}
function oid(b: Buffer, x: Tlv): string {
  const first = b[x.start]!;
  const ids = [Math.floor(first / 40), first % 40];
  let v = 0;
  for (let i = x.start + 1; i < x.end; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if (!(b[i]! & 0x80)) {
      ids.push(v);
      v = 0;
    }
  }
  return ids.join('.');
}
const root = (b: Buffer): Tlv => readTlv(b, 0);

// ---- a UDP socket that keeps what it gets
async function listener(t: Test): Promise<{ port: number; next: () => Promise<Buffer>; sock: Socket }> {
  const sock = createSocket('udp4');
  const got: Buffer[] = [];
  const waiters: ((b: Buffer) => void)[] = [];
  sock.on('message', (m) => (waiters.length ? waiters.shift()!(m) : got.push(m)));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  t.teardown(() => sock.close());
  return {
    port: sock.address().port,
    sock,
    next: () => (got.length ? Promise.resolve(got.shift()!) : new Promise((r) => waiters.push(r))),
  };
}

const engine: LocalEngine = {
  engineId: () => '800068f20302aabbccddee',
  engineBoots: () => 42,
  engineTime: () => 4711,
};
const box = { boxId: 1, hostname: 'box1', model: 'GigaVUE-HC2' };
const cert = { domain: 'd.lab.test', serial: '0A', expiresMs: Date.UTC(2026, 0, 2), reason: 'superseded' };

function target(port: number, o: Partial<SnmpTarget>): SnmpTarget {
  return {
    host: '127.0.0.1',
    port,
    kind: 'traps',
    version: '2c',
    community: 'public',
    ratePerSec: 100,
    ...o,
  };
}

const v1Rows = [
  {
    name: 'enterprise-specific: enterprise gvosSimMIB, generic 6, specific 4',
    n: certificateNotification('cert-revoked', box, cert, 12_340),
    enterprise: GVOS_SIM_OID,
    generic: 6,
    specific: 4,
    ticks: 1234,
    varbinds: 9,
  },
  {
    name: "coldStart: generic 0, enterprise gvosSimMIB (not net-snmp's 1.3.6.1.4.1)",
    n: bootNotification('cold', box, 'v', 0),
    enterprise: GVOS_SIM_OID,
    generic: 0,
    specific: 0,
    ticks: 1,
    varbinds: 5,
  },
];
for (const r of v1Rows) {
  t.test(`SNMPv1 Trap-PDU: ${r.name}`, async (t) => {
    const rx = await listener(t);
    const s = createNetSnmpSender(
      { target: target(rx.port, { version: '1' }), engine, agentAddr: '10.1.2.3' },
      silentLogger,
    );
    t.teardown(() => s.close());
    await s.trap(r.n);
    const b = await rx.next();
    const [version, community, pdu] = kids(b, root(b));
    t.equal(int(b, version!), 0, 'version-1');
    t.equal(b.subarray(community!.start, community!.end).toString(), 'public');
    t.equal(pdu!.tag, 0xa4, 'Trap-PDU');
    const [ent, addr, gen, spec, ts, vbs] = kids(b, pdu!);
    t.equal(oid(b, ent!), r.enterprise);
    t.same([...b.subarray(addr!.start, addr!.end)], [10, 1, 2, 3], 'agent-addr');
    t.equal(int(b, gen!), r.generic);
    t.equal(int(b, spec!), r.specific);
    t.equal(int(b, ts!), r.ticks, 'time-stamp = box uptime (at least 1: net-snmp reads 0 as absent)');
    t.equal(kids(b, vbs!).length, r.varbinds);
  });
}

t.test('SNMPv2c trap: sysUpTime.0, snmpTrapOID.0, then the objects (RFC 3416 §4.2.6)', async (t) => {
  const rx = await listener(t);
  const s = createNetSnmpSender({ target: target(rx.port, {}), engine, agentAddr: '' }, silentLogger);
  t.teardown(() => s.close());
  await s.trap(testNotification(box, 5000));
  const b = await rx.next();
  const pdu = kids(b, root(b))[2]!;
  t.equal(pdu.tag, 0xa7, 'SNMPv2-Trap-PDU');
  const vbs = kids(b, kids(b, pdu)[3]!).map((vb) => kids(b, vb));
  t.same(
    vbs.map(([name]) => oid(b, name!)),
    [
      SYS_UPTIME_0,
      SNMP_TRAP_OID_0,
      OBJECTS.hardwareName,
      OBJECTS.level,
      OBJECTS.description,
      OBJECTS.boxId,
      OBJECTS.hostname,
    ],
  );
  t.equal(int(b, vbs[0]![1]!), 500, 'sysUpTime in hundredths');
  t.equal(oid(b, vbs[1]![1]!), `${GVOS_SIM_OID}.0.7`);
});

const v3Rows: { name: string; user: SnmpUser }[] = [
  { name: 'noAuthNoPriv', user: { name: 'u' } },
  {
    name: 'authPriv SHA-512/AES-256 (encrypted with these boots/time)',
    user: {
      name: 'u',
      auth: { protocol: 'sha512', password: 'authpass1' },
      priv: { protocol: 'aes-256', password: 'privpass1' },
    },
  },
];
for (const r of v3Rows) {
  t.test(
    `SNMPv3 trap ${r.name}: the box's engine ID, boots and time (RFC 3414 §2.3: the sender is authoritative)`,
    async (t) => {
      const rx = await listener(t);
      const s = createNetSnmpSender(
        { target: target(rx.port, { version: '3', user: 'u' }), user: r.user, engine, agentAddr: '' },
        silentLogger,
      );
      t.teardown(() => s.close());
      await s.trap(bootNotification('warm', box, 'v', 0));
      const b = await rx.next();
      const [version, , secParams] = kids(b, root(b));
      t.equal(int(b, version!), 3);
      const usm = kids(b, kids(b, secParams!)[0]!);
      t.equal(b.subarray(usm[0]!.start, usm[0]!.end).toString('hex'), engine.engineId());
      t.equal(int(b, usm[1]!), 42, 'msgAuthoritativeEngineBoots');
      t.equal(int(b, usm[2]!), 4711, 'msgAuthoritativeEngineTime');
    },
  );
}

t.test('an inform nobody answers rejects with InformTimeoutError after the timeout', async (t) => {
  const rx = await listener(t); // bound, never answers
  const s = createNetSnmpSender(
    { target: target(rx.port, { kind: 'informs' }), engine, agentAddr: '' },
    silentLogger,
  );
  t.teardown(() => s.close());
  const started = Date.now();
  await t.rejects(s.inform(testNotification(box, 0), 150), InformTimeoutError);
  t.ok(Date.now() - started >= 140);
});

t.test('close() ends an outstanding inform at once (nothing keeps the process alive)', async (t) => {
  const rx = await listener(t);
  const s = createNetSnmpSender(
    { target: target(rx.port, { kind: 'informs' }), engine, agentAddr: '' },
    silentLogger,
  );
  const p = s.inform(testNotification(box, 0), 60_000);
  await rx.next();
  s.close();
  await t.rejects(p, /stopped/);
  t.doesNotThrow(() => s.close(), 'close twice is harmless');
});

// A source address the socket cannot bind, without leaving loopback: in
// 127.0.0.0/8 every address binds, so the tests bind an IPv4 socket to ::1
// and an IPv6 one to 127.0.0.1 (EINVAL), the same socket error a box
// address the host does not have gives (EADDRNOTAVAIL).
const v3User: SnmpUser = { name: 'u', auth: { protocol: 'sha', password: 'authpass1' } };
const unbindableRows: { name: string; target: Partial<SnmpTarget>; source: string; user?: SnmpUser }[] = [
  { name: 'SNMPv1 trap', target: { version: '1' }, source: '::1' },
  { name: 'SNMPv3 trap', target: { version: '3', user: 'u' }, source: '::1', user: v3User },
  { name: 'SNMPv2c inform', target: { kind: 'informs' }, source: '::1' },
  {
    name: 'SNMPv3 inform',
    target: { kind: 'informs', version: '3', user: 'u' },
    source: '::1',
    user: v3User,
  },
  { name: 'SNMPv2c inform to ::1', target: { kind: 'informs', host: '::1' }, source: '127.0.0.1' },
];
for (const r of unbindableRows) {
  // The bound: before the fix these waited forever; tap's timeout turns that into a failure.
  t.test(
    `${r.name} from a source address that cannot bind fails the burst and closes the socket`,
    { timeout: 30_000 },
    async (t) => {
      const rx = await listener(t);
      const spec = {
        target: target(rx.port, r.target),
        user: r.user,
        engine,
        agentAddr: '127.0.0.1',
        sourceAddress: r.source,
      };
      const lines: string[] = [];
      const s = createNetSnmpSender(spec, new JsonLogger('debug', {}, (l) => lines.push(l)));
      t.teardown(() => s.close());
      const send = (i: number) =>
        r.target.kind === 'informs'
          ? s.inform(testNotification(box, i), 60_000)
          : s.trap(testNotification(box, i));
      const before = await openUdpSockets();
      const burst = [send(1), send(2)];
      for (const p of burst) await t.rejects(p, /EINVAL/, "fails with the socket's error (not a timeout)");
      t.equal(await openUdpSockets(), before, 'the socket is closed');
      t.equal(
        lines.filter((l) => l.includes('EINVAL')).length,
        1,
        'the socket error is logged once for the burst',
      );
      await t.rejects(send(3), /EINVAL/, 'the next notification gets a fresh socket, and fails too');
      t.equal(await openUdpSockets(), before, 'that socket is closed too');
    },
  );
}

t.test(
  'through the queue: each notification that cannot leave is dropped, counted and logged once',
  { timeout: 30_000 },
  async (t) => {
    const rx = await listener(t);
    for (const kind of ['traps', 'informs'] as const) {
      const counters = zeroCounters();
      const lines: string[] = [];
      const logger = new JsonLogger('warn', {}, (l) => lines.push(l));
      const spec = {
        target: target(rx.port, { kind, version: kind === 'traps' ? '1' : '2c' }),
        engine,
        agentAddr: '127.0.0.1',
        sourceAddress: '::1',
      };
      const q = new TargetQueue({
        kind,
        sender: createNetSnmpSender(spec, logger),
        clock: new SystemClock(),
        logger,
        settings: { ...DEFAULT_QUEUE_SETTINGS, ratePerSec: 10_000 },
        counters,
      });
      t.teardown(() => q.close());
      const outcomes = await Promise.all([1, 2, 3].map((i) => q.enqueue(testNotification(box, i))));
      t.same(outcomes, ['dropped', 'dropped', 'dropped'], `${kind}: dropped`);
      t.match(
        counters,
        { sent: kind === 'informs' ? 3 : 0, dropped: 3, retried: 0, timedOut: 0 },
        `${kind}: counted`,
      );
      t.equal(lines.length, 3, `${kind}: one warning per notification`);
      for (const l of lines) t.match(l, /EINVAL/, `${kind}: the warning gives the socket's reason`);
    }
  },
);

const problemRows: {
  name: string;
  target: Partial<SnmpTarget>;
  user?: SnmpUser;
  problem: RegExp | undefined;
}[] = [
  { name: 'v2c with a community: fine', target: {}, problem: undefined },
  { name: 'v3 without its user', target: { version: '3', user: 'x' }, problem: /does not exist/ },
  {
    name: 'v3 with a DES user (OpenSSL 3 has no DES)',
    target: { version: '3', user: 'x' },
    user: { name: 'x', auth: { protocol: 'sha', password: 'p' }, priv: { protocol: 'des', password: 'q' } },
    problem: /DES/,
  },
  {
    name: 'v3 with MD5 auth (allowed outside FIPS)',
    target: { version: '3', user: 'x' },
    user: { name: 'x', auth: { protocol: 'md5', password: 'p' } },
    problem: undefined,
  },
  { name: 'v1 without a community', target: { version: '1', community: undefined }, problem: /community/ },
];
for (const r of problemRows) {
  t.test(`senderProblem: ${r.name}`, async (t) => {
    const p = senderProblem(target(1, r.target), r.user);
    if (r.problem) t.match(p, r.problem);
    else t.equal(p, undefined);
  });
}

t.test('COLD_START is snmpTraps.1', async (t) => {
  t.equal(COLD_START, '1.3.6.1.6.3.1.1.5.1');
});
