/**
 * The load generator of bench/snmp-agent.ts, in a process of its own (so
 * its CPU is not the agents'): SNMPv2c requests over one UDP socket to a
 * list of agents, round-robin, with `window` requests in flight, for
 * `seconds`. Requests are pre-encoded BER (GET of sysUpTime.0, or GETBULK
 * max-repetitions 10 from sysDescr, as snmpbulkwalk sends); a response is
 * matched by request-id. Reports answered requests per second and latency.
 *
 * argv: JSON { targets: [address, port][], kind: 'get'|'bulk', window, seconds }
 * stdout: JSON { sent, answered, timedOut, seconds, latenciesMs: number[] (sampled) }
 */
import { createSocket } from 'node:dgram';

interface Args {
  targets: [string, number][];
  kind: 'get' | 'bulk';
  window: number;
  seconds: number;
}

const a = JSON.parse(process.argv[2]!) as Args;

function tlv(tag: number, body: Buffer): Buffer {
  if (body.length > 127) throw new Error('long form not needed here');
  return Buffer.concat([Buffer.from([tag, body.length]), body]);
}
const int4 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v & 0x7fffffff);
  return tlv(0x02, b);
};
const oid = (o: string) => {
  const p = o.split('.').map(Number);
  return tlv(0x06, Buffer.from([40 * p[0]! + p[1]!, ...p.slice(2)]));
};

function request(id: number): Buffer {
  const vb =
    a.kind === 'get'
      ? tlv(0x30, Buffer.concat([oid('1.3.6.1.2.1.1.3.0'), Buffer.from([0x05, 0x00])]))
      : tlv(0x30, Buffer.concat([oid('1.3.6.1.2.1.1.1'), Buffer.from([0x05, 0x00])]));
  const pdu = tlv(
    a.kind === 'get' ? 0xa0 : 0xa5,
    Buffer.concat([
      int4(id),
      tlv(0x02, Buffer.from([0])),
      tlv(0x02, Buffer.from([a.kind === 'get' ? 0 : 10])),
      tlv(0x30, vb),
    ]),
  );
  return tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([1])), tlv(0x04, Buffer.from('public')), pdu]));
}

/** The request-id of a v2c response: SEQUENCE { version, community, PDU { request-id ... } }. */
function responseId(b: Buffer): number | undefined {
  let i = 0;
  const len = () => {
    let l = b[i++]!;
    if (l & 0x80) {
      const n = l & 0x7f;
      l = 0;
      for (let k = 0; k < n; k++) l = l * 256 + b[i++]!;
    }
    return l;
  };
  if (b[i++] !== 0x30) return undefined;
  len();
  // (`i += len()` would read i before len() moves it.)
  i++; // version tag
  const lv = len();
  i += lv;
  i++; // community tag
  const lc = len();
  i += lc;
  i++; // PDU tag
  len();
  if (b[i++] !== 0x02) return undefined;
  const n = len();
  let v = 0;
  for (let k = 0; k < n; k++) v = v * 256 + b[i++]!;
  return v;
}

const sock = createSocket('udp4');
const inflight = new Map<number, number>();
let nextId = 1;
let next = 0;
let sent = 0;
let answered = 0;
let timedOut = 0;
const lat: number[] = [];
const until = performance.now() + a.seconds * 1000;

function send(): void {
  if (performance.now() >= until) return;
  const id = nextId++;
  const [addr, port] = a.targets[next++ % a.targets.length]!;
  inflight.set(id, performance.now());
  sent++;
  sock.send(request(id), port, addr);
}

sock.on('message', (m) => {
  const id = responseId(m);
  if (id === undefined) return;
  const t0 = inflight.get(id);
  if (t0 === undefined) return;
  inflight.delete(id);
  answered++;
  if (lat.length < 200_000) lat.push(performance.now() - t0);
  send();
});

// A lost datagram must not shrink the window: give up on a request after 1 s and send another.
const sweeper = setInterval(() => {
  const now = performance.now();
  for (const [id, t0] of inflight) {
    if (now - t0 > 1000) {
      inflight.delete(id);
      timedOut++;
      send();
    }
  }
}, 100);

sock.bind(0, '127.0.0.1', () => {
  const start = performance.now();
  for (let i = 0; i < a.window; i++) send();
  setTimeout(
    () => {
      clearInterval(sweeper);
      const seconds = (performance.now() - start) / 1000;
      process.stdout.write(JSON.stringify({ sent, answered, timedOut, seconds, latenciesMs: lat }) + '\n');
      sock.close();
    },
    a.seconds * 1000 + 50,
  );
});
