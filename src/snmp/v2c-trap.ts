/**
 * SNMPv2c traps without net-snmp's session: the message is encoded here
 * (X.690 definite-length, minimal encodings: the same octets net-snmp's
 * encoder writes for the same request-id; v2c-trap.test.ts compares them)
 * and handed to a plain UDP socket bound to the box's address.
 *
 * Why: a v2c trap is the notification every lab box sends per certificate,
 * and net-snmp's path (a Session with its engine and listeners, message and
 * PDU objects, asn1-ber's writer shifting each sequence into place) cost
 * about 100 µs of main-thread CPU per trap, where this costs about a third
 * (measured in session 8: CHANGELOG). Informs and v1/v3 traps keep
 * net-snmp (net-snmp-sender.ts): they need its retries, USM or v1 fields.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from '../lib/logger.js';
import { SNMP_TRAP_OID_0, SYS_UPTIME_0 } from './oids.js';
import type { SenderSpec } from './sender-spec.js';
import type { TargetSender } from './target-queue.js';
import type { Notification, Varbind } from './varbinds.js';

const INTEGER = 0x02;
const OCTET_STRING = 0x04;
const OBJECT_IDENTIFIER = 0x06;
const SEQUENCE = 0x30;
const TIME_TICKS = 0x43;
/** SNMPv2-Trap-PDU (RFC 3416 §3). */
const SNMPV2_TRAP = 0xa7;
/** msgVersion of SNMPv2c (RFC 1901). */
const VERSION_2C = 1;
/** The largest UDP payload over IPv4: a longer message could not leave as one datagram. */
const MAX_DATAGRAM_OCTETS = 65_507;

/**
 * Encoded OIDs (the contents octets), by dotted string. The notifications
 * use a few dozen distinct OIDs (oids.ts, a box's sysObjectID), so the map
 * stays small; it stops growing at OID_CACHE_MAX entries all the same.
 */
const oidCache = new Map<string, Buffer>();
const OID_CACHE_MAX = 1024;
const OID_PATTERN = /^\d+(\.\d+)+$/;

/** The contents octets of an OBJECT IDENTIFIER (X.690 §8.19); throws on a malformed OID. */
function oidContents(oid: string): Buffer {
  const cached = oidCache.get(oid);
  if (cached) return cached;
  if (!OID_PATTERN.test(oid)) throw new Error(`not an OID: "${oid}"`);
  const arcs = oid.split('.').map(Number);
  const first = arcs[0]! * 40 + arcs[1]!;
  if (arcs[0]! > 2 || (arcs[0]! < 2 && arcs[1]! >= 40)) throw new Error(`not an OID: "${oid}"`);
  const out: number[] = [];
  for (const arc of [first, ...arcs.slice(2)]) {
    if (arc > 0xffffffff) throw new Error(`OID arc out of range in "${oid}"`);
    const groups = [arc % 128];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.push((v % 128) | 0x80);
    out.push(...groups.reverse());
  }
  const contents = Buffer.from(out);
  if (oidCache.size < OID_CACHE_MAX) oidCache.set(oid, contents);
  return contents;
}

/**
 * A BER writer that fills a buffer from its end: each value is written
 * before its length is known to the enclosing sequence, and the sequence's
 * header is then written in front of it, so nothing is shifted.
 */
class BackWriter {
  private buf: Buffer;
  private pos: number;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
    this.pos = size;
  }

  /** Octets written so far. */
  get length(): number {
    return this.buf.length - this.pos;
  }

  /** A copy of what was written (the writer's buffer is reused for the next message). */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.length);
    this.buf.copy(out, 0, this.pos);
    return out;
  }

  reset(): void {
    this.pos = this.buf.length;
  }

  /** Make room for `n` more octets in front of what is written. */
  private room(n: number): void {
    if (this.pos >= n) return;
    const used = this.length;
    if (used + n > MAX_DATAGRAM_OCTETS) throw new Error('notification too large for one UDP datagram');
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, used + n));
    this.buf.copy(bigger, bigger.length - used, this.pos);
    this.buf = bigger;
    this.pos = bigger.length - used;
  }

  /** Tag and definite length (X.690 §8.1.3: short form below 128, else the fewest length octets). */
  header(tag: number, length: number): void {
    this.room(5);
    let p = this.pos;
    if (length < 0x80) {
      this.buf[--p] = length;
    } else {
      let octets = 0;
      for (let v = length; v > 0; v = Math.floor(v / 256)) {
        this.buf[--p] = v & 0xff;
        octets++;
      }
      this.buf[--p] = 0x80 | octets;
    }
    this.buf[--p] = tag;
    this.pos = p;
  }

  /** A sequence (or PDU) around what was written since `end` (= length before its contents). */
  wrap(tag: number, end: number): void {
    this.header(tag, this.length - end);
  }

  /** INTEGER or an application integer type (X.690 §8.3: two's complement, fewest octets). */
  integer(tag: number, value: number): void {
    this.room(7);
    const end = this.length;
    let v = value;
    while (v < -0x80 || v >= 0x80) {
      this.buf[--this.pos] = v & 0xff;
      v = Math.floor(v / 256);
    }
    this.buf[--this.pos] = v & 0xff;
    this.wrap(tag, end);
  }

  octetString(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.room(n);
    this.pos -= n;
    this.buf.write(s, this.pos, n, 'utf8');
    this.header(OCTET_STRING, n);
  }

  oid(oid: string): void {
    const c = oidContents(oid);
    this.room(c.length);
    this.pos -= c.length;
    c.copy(this.buf, this.pos);
    this.header(OBJECT_IDENTIFIER, c.length);
  }
}

/** One writer for the process: encoding is synchronous, so no two messages share it at once. */
const writer = new BackWriter(2048);

function int32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff)
    throw new Error(`${what} ${v} is not an Integer32`);
  return v;
}

function varbind(w: BackWriter, v: Varbind): void {
  const end = w.length;
  switch (v.type) {
    case 'OctetString':
      w.octetString(String(v.value));
      break;
    case 'Integer':
      w.integer(INTEGER, int32(Number(v.value), v.oid));
      break;
    case 'OID':
      w.oid(String(v.value));
      break;
  }
  w.oid(v.oid);
  w.wrap(SEQUENCE, end);
}

/**
 * The octets of one SNMPv2c trap message (RFC 1901, RFC 3416 §4.2.6):
 * version 1, the community, an SNMPv2-Trap-PDU with `requestId`, error
 * fields 0, and the variable bindings sysUpTime.0 (`n.upTimeTicks`, at
 * least 1 as the net-snmp path sends), snmpTrapOID.0, then `n.varbinds`.
 * Throws on a value its type cannot hold (not an Integer32, not an OID,
 * ticks outside 0..2^32-1) and on a message over 65,507 octets.
 */
export function encodeV2cTrap(community: string, requestId: number, n: Notification): Buffer {
  const ticks = Math.max(1, n.upTimeTicks);
  if (!Number.isInteger(ticks) || ticks > 0xffffffff) throw new Error(`sysUpTime ${ticks} is not TimeTicks`);
  const w = writer;
  w.reset();
  try {
    // After reset() the length is 0: the varbind list, the PDU and the message each wrap all written so far.
    for (let i = n.varbinds.length - 1; i >= 0; i--) varbind(w, n.varbinds[i]!);
    let end = w.length;
    w.oid(n.trapOid);
    w.oid(SNMP_TRAP_OID_0);
    w.wrap(SEQUENCE, end);
    end = w.length;
    w.integer(TIME_TICKS, ticks);
    w.oid(SYS_UPTIME_0);
    w.wrap(SEQUENCE, end);
    w.wrap(SEQUENCE, 0);
    w.integer(INTEGER, 0); // error-index
    w.integer(INTEGER, 0); // error-status
    w.integer(INTEGER, int32(requestId, 'request-id'));
    w.wrap(SNMPV2_TRAP, 0);
    w.octetString(community);
    w.integer(INTEGER, VERSION_2C);
    w.wrap(SEQUENCE, 0);
    return w.take();
  } finally {
    w.reset();
  }
}

/** A request-id as net-snmp draws one for a trap (0..99,999,999; a receiver does not answer a trap). */
function requestId(): number {
  return Math.floor(Math.random() * 100_000_000);
}

/**
 * A TargetSender for an SNMPv2c trap target (kind 'traps', version '2c').
 *
 * The socket's life is net-snmp-sender.ts's (README emulation row
 * "notification source port"): opened at a burst's first trap, bound to
 * `spec.sourceAddress` (any port; unbound when there is none: the kernel
 * picks the address), and closed when the burst's last trap has been
 * handed to the kernel, so a box holds no socket between notifications.
 * A socket error (a source address the host does not have) fails every
 * trap of the burst with it. inform() always rejects: an informs target
 * gets net-snmp's sender.
 */
export function createV2cTrapSender(spec: SenderSpec, logger: Logger): TargetSender {
  const { host, port } = spec.target;
  const community = spec.target.community ?? '';
  const type = isIPv6(host) ? 'udp6' : 'udp4';
  interface Pending {
    resolve: () => void;
    reject: (err: Error) => void;
  }
  let socket: Socket | undefined;
  /** Traps of the current burst not yet handed to the kernel. */
  const pending = new Set<Pending>();

  const closeSocket = (s: Socket) => {
    try {
      s.close();
    } catch (err) {
      logger.debug('snmp trap socket close failed', { reason: errorText(err) });
    }
  };
  /** End the burst: fail what is still pending with `err`, close the socket. */
  const abort = (s: Socket, err: Error) => {
    if (socket !== s) return;
    socket = undefined;
    const failed = [...pending];
    pending.clear();
    closeSocket(s);
    for (const p of failed) p.reject(err);
  };
  const open = (): Socket => {
    const s = createSocket({ type });
    s.unref(); // a trap in flight must not keep the process alive (as net-snmp's session)
    s.on('error', (err) => {
      logger.debug('snmp trap socket error', { reason: err.message });
      abort(s, err);
    });
    if (spec.sourceAddress) s.bind(0, spec.sourceAddress);
    return s;
  };
  const settle = (s: Socket, p: Pending, err: Error | null | undefined) => {
    if (!pending.delete(p)) return; // the burst was aborted meanwhile
    if (pending.size === 0 && socket === s) {
      socket = undefined;
      closeSocket(s);
    }
    if (err) p.reject(err);
    else p.resolve();
  };

  return {
    trap(n) {
      return new Promise<void>((resolve, reject) => {
        let message: Buffer;
        try {
          message = encodeV2cTrap(community, requestId(), n);
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        const p: Pending = { resolve, reject };
        const s = (socket ??= open());
        pending.add(p);
        try {
          s.send(message, port, host, (err) => settle(s, p, err));
        } catch (err) {
          settle(s, p, err instanceof Error ? err : new Error(String(err)));
        }
      });
    },

    inform() {
      return Promise.reject(new Error('an SNMPv2c trap sender sends no informs'));
    },

    close() {
      if (socket) abort(socket, new Error('SNMP notifier stopped'));
    },
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
