/**
 * The read-only SNMP agent of a box (issue 12): one UDP socket on the box's
 * address (161, or the lab's port), v1/v2c by community, v3 by the box's
 * USM users with the same engine ID, boots and time as its notifications.
 * Answers GET, GETNEXT and GETBULK from mib.ts; refuses SET.
 *
 * net-snmp does the message work (BER decoding, USM authentication and
 * privacy, encoding): its Listener.processIncoming and its Message and PDU
 * objects, reached through a socketless net-snmp agent (net-snmp.d.ts).
 * Its Agent's own MIB and dispatch are not used: that MIB stores values
 * per agent (a thousand boxes would each hold the whole tree) and its
 * GETBULK has no size bound. Here the tree is shared per model and the
 * values are read from the box at request time.
 *
 * Before net-snmp sees a datagram, a small BER reader (readHeader) checks
 * the outer structure, the version, the community, and for v3 the engine
 * ID and user: net-snmp would localize a user's key to whatever engine ID
 * a message names (2 ms of CPU, cached forever), so a message for another
 * engine is answered with the discovery report before any key work.
 *
 * Bounds: datagrams over MAX_REQUEST_OCTETS are dropped; a response is at
 * most MAX_MESSAGE_OCTETS (tooBig otherwise; GETBULK returns fewer
 * repetitions); GETBULK max-repetitions is capped at MAX_REPETITIONS and a
 * response at MAX_VARBINDS. Nothing a datagram holds can throw out of the
 * socket handler; every refusal is counted (`show snmp`).
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import snmp, { type AgentMessage, type AgentPdu, type ProcessIncoming, type V3User } from 'net-snmp';
import type { SnmpConfig, SnmpUser } from '../device/model.js';
import type { SnmpAgentStatus } from '../device/ports.js';
import type { Logger } from '../lib/logger.js';
import {
  MAX_MESSAGE_OCTETS,
  mibTreeFor,
  zeroAgentCounters,
  type AgentBoxView,
  type MibContext,
  type SmiValue,
} from './mib.js';
import { toV3User, type LocalEngine } from './usm.js';

/** EMULATION: GETBULK max-repetitions is capped at 50 and a response at 100 variable bindings. */
const MAX_REPETITIONS = 50;
const MAX_VARBINDS = 100;
/** Requests larger than this are dropped unread (a real manager's request is a few hundred octets). */
const MAX_REQUEST_OCTETS = 4096;
/** RFC 3414 §2.2.3: the time window of an authenticated message, seconds. */
const TIME_WINDOW_S = 150;

/** What the agent reads from the running config at each request. */
export interface AgentSettings {
  /** `snmp-server enable`: no answer at all when off. */
  enabled: boolean;
  /** `snmp-server enable communities`: v1/v2c answered only when on. */
  communitiesEnabled: boolean;
  /** `snmp-server community <c>`: none = no answer to v1/v2c. */
  communities: readonly string[];
  users: readonly SnmpUser[];
  contact: string;
  location: string;
}

/** The agent's settings in a box's SNMP config (fields absent in a state file written before them read as defaults). */
export function agentSettingsOf(c: Readonly<SnmpConfig>): AgentSettings {
  return {
    enabled: c.enabled,
    communitiesEnabled: c.communitiesEnabled ?? true,
    communities: c.communities ?? [],
    users: c.users,
    contact: c.contact ?? '',
    location: c.location ?? '',
  };
}

export interface SnmpAgentOptions {
  box: AgentBoxView;
  engine: LocalEngine;
  address: string;
  /** UDP port; 0 = any free port. */
  port: number;
  settings: () => AgentSettings;
  logger: Logger;
}

export type { SnmpAgentStatus };

const PDU = { get: 160, getNext: 161, response: 162, set: 163, getBulk: 165 } as const;
const ERR = { noError: 0, tooBig: 1, noSuchName: 2, noAccess: 6, notWritable: 17 } as const;
const USM = { notInTimeWindow: '2', unknownUserName: '3', unknownEngineId: '4' } as const;

const TYPES: Record<SmiValue['type'], number> = {
  Integer: snmp.ObjectType.Integer,
  OctetString: snmp.ObjectType.OctetString,
  OID: snmp.ObjectType.OID,
  Counter32: snmp.ObjectType.Counter,
  Gauge32: snmp.ObjectType.Gauge,
  TimeTicks: snmp.ObjectType.TimeTicks,
};
const NO_SUCH_OBJECT = 128;
const NO_SUCH_INSTANCE = 129;
const END_OF_MIB_VIEW = 130;

/** net-snmp's Listener.processIncoming, from an agent with no socket (options.sockets = []). */
let processIncomingFn: ProcessIncoming | undefined;
function processIncoming(): ProcessIncoming {
  if (!processIncomingFn) {
    const carrier = snmp.createAgent({ sockets: [] }, () => undefined);
    processIncomingFn = carrier.listener.constructor.processIncoming;
  }
  return processIncomingFn;
}

/**
 * One box's agent. start() binds, stop() closes; a reload makes a new one.
 * Not shared between boxes (the MIB tree it reads is).
 */
export class SnmpAgent {
  private socket: Socket | undefined;
  private boundPort = 0;
  private readonly counters = zeroAgentCounters();
  private readonly engineIdBuf: Buffer;
  private usersRef: readonly SnmpUser[] | undefined;
  private v3Users: V3User[] = [];

  constructor(private readonly o: SnmpAgentOptions) {
    this.engineIdBuf = Buffer.from(o.engine.engineId(), 'hex');
  }

  /** Bind the socket; resolves with the bound port, rejects naming the address and port. */
  start(): Promise<number> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: isIPv6(this.o.address) ? 'udp6' : 'udp4' });
      const onError = (err: Error) => {
        socket.close();
        reject(new Error(`cannot open SNMP agent on ${this.o.address} UDP ${this.o.port}: ${err.message}`));
      };
      socket.once('error', onError);
      socket.bind(this.o.port, this.o.address, () => {
        socket.off('error', onError);
        socket.on('error', (err) => this.o.logger.warn('snmp agent socket error', { reason: err.message }));
        socket.on('message', (buf, rinfo) => this.onDatagram(socket, buf, rinfo));
        this.socket = socket;
        this.boundPort = socket.address().port;
        resolve(this.boundPort);
      });
    });
  }

  /** Close the socket. Idempotent. */
  close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.close(() => resolve()));
  }

  status(): SnmpAgentStatus {
    return { address: this.o.address, port: this.boundPort, counters: { ...this.counters } };
  }

  // ---------------------------------------------------------------- receive

  private onDatagram(socket: Socket, buf: Buffer, rinfo: RemoteInfo): void {
    const c = this.counters;
    c.inPkts++;
    try {
      const out = this.handle(buf);
      if (!out) return;
      socket.send(out, rinfo.port, rinfo.address);
      c.outPkts++;
    } catch (err) {
      // net-snmp throws on what it cannot decode or encode: counted, never fatal.
      c.asnParseErrs++;
      this.o.logger.debug('snmp agent: datagram refused', {
        from: rinfo.address,
        reason: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** The answer to one datagram, or undefined for none. Throws on undecodable input. */
  private handle(buf: Buffer): Buffer | undefined {
    const c = this.counters;
    if (buf.length > MAX_REQUEST_OCTETS) {
      c.silentDrops++;
      return undefined;
    }
    const head = readHeader(buf);
    if (!head) {
      c.asnParseErrs++;
      return undefined;
    }
    if (head.version !== 0 && head.version !== 1 && head.version !== 3) {
      c.badVersions++;
      return undefined;
    }
    const cfg = this.o.settings();
    if (!cfg.enabled) {
      c.silentDrops++;
      return undefined;
    }
    if (head.version !== 3) {
      // EMULATION: with no community configured (or communities off), v1/v2c get no answer.
      if (!cfg.communitiesEnabled || !cfg.communities.includes(head.community)) {
        c.badCommunityNames++;
        return undefined;
      }
      const msg = this.decode(buf, [], [head.community]);
      return msg && !('report' in msg) ? this.answer(msg) : undefined;
    }
    return this.handleV3(buf, head as V3Header, cfg);
  }

  private handleV3(buf: Buffer, head: V3Header, cfg: AgentSettings): Buffer | undefined {
    const c = this.counters;
    const report = (m: AgentMessage | undefined, type: string) => {
      c.usmErrors++;
      return m && m.isReportable() ? this.report(m, type) : undefined;
    };
    // Discovery (empty engine ID) or another engine: the report that tells our engine ID, boots and time.
    if (!head.engineId.equals(this.engineIdBuf)) {
      const m = this.decode(buf, [], []);
      return report(m && 'report' in m ? m.original : m, USM.unknownEngineId);
    }
    const user = cfg.users.find((u) => u.name === head.userName);
    if (!user) {
      const m = this.decode(buf, [], []);
      return report(m && 'report' in m ? m.original : m, USM.unknownUserName);
    }
    const m = this.decode(buf, [this.v3UserFor(cfg, user)], []);
    if (!m) return undefined;
    if ('report' in m) return report(m.original, m.errorType);
    // Authenticated: now the time window (RFC 3414 §3.2 step 7).
    if (m.hasAuthentication()) {
      const boots = this.o.engine.engineBoots();
      const time = this.o.engine.engineTime();
      if (head.boots !== boots || Math.abs(head.time - time) > TIME_WINDOW_S) {
        return report(m, USM.notInTimeWindow);
      }
    }
    return this.answer(m);
  }

  /** net-snmp's decode and USM check; undefined when it refused (counted). */
  private decode(
    buf: Buffer,
    users: V3User[],
    communities: string[],
  ): AgentMessage | { original: AgentMessage; report: true; errorType: string } | undefined {
    let failed = false;
    const result = processIncoming()(buf, { users, communities, disableAuthorization: false }, (err) => {
      if (!err) return;
      failed = true;
      this.counters.usmErrors++;
      this.o.logger.debug('snmp agent: request refused', { reason: err.message });
    });
    return failed ? undefined : result || undefined;
  }

  private v3UserFor(cfg: AgentSettings, user: SnmpUser): V3User {
    if (this.usersRef !== cfg.users) {
      this.usersRef = cfg.users;
      this.v3Users = cfg.users.map(toV3User);
    }
    return this.v3Users[cfg.users.indexOf(user)]!;
  }

  // ---------------------------------------------------------------- answer

  private engineNow() {
    return {
      engineID: this.engineIdBuf,
      engineBoots: this.o.engine.engineBoots(),
      engineTime: this.o.engine.engineTime(),
    };
  }

  private report(m: AgentMessage, errorType: string): Buffer {
    const r = m.createReportResponseMessage(this.engineNow(), '', errorType);
    return r.toBuffer();
  }

  private context(): MibContext {
    const cfg = this.o.settings();
    return {
      box: this.o.box,
      engineIdHex: this.o.engine.engineId(),
      engineBoots: this.o.engine.engineBoots(),
      engineTime: this.o.engine.engineTime(),
      counters: this.counters,
      contact: cfg.contact,
      location: cfg.location,
    };
  }

  /** The response to an authorized request, encoded and within bounds; undefined for a PDU type we do not serve. */
  private answer(m: AgentMessage): Buffer | undefined {
    const pdu = m.pdu;
    const v1 = m.version === snmp.Version1;
    const tree = mibTreeFor(this.o.box.identity.model);
    const ctx = this.context();
    const resp = pdu.getResponsePduForRequest();
    resp.errorStatus = ERR.noError;
    resp.errorIndex = 0;
    const reqVbs = pdu.varbinds.slice(0, MAX_VARBINDS);
    const vbs: AgentVarbind[] = [];
    const fail = (status: number, index: number) => {
      resp.errorStatus = status;
      resp.errorIndex = index;
    };

    switch (pdu.type) {
      case PDU.get:
        reqVbs.forEach((vb, i) => {
          const v = tree.get(parseOid(vb.oid), ctx);
          if (typeof v === 'string') {
            if (v1 && resp.errorStatus === ERR.noError) fail(ERR.noSuchName, i + 1);
            vbs.push({
              oid: vb.oid,
              type: v === 'noSuchObject' ? NO_SUCH_OBJECT : NO_SUCH_INSTANCE,
              value: null,
            });
          } else vbs.push(toVarbind(vb.oid, v));
        });
        break;
      case PDU.getNext:
        reqVbs.forEach((vb, i) => {
          const n = tree.next(parseOid(vb.oid), ctx);
          if (!n) {
            if (v1 && resp.errorStatus === ERR.noError) fail(ERR.noSuchName, i + 1);
            vbs.push({ oid: vb.oid, type: END_OF_MIB_VIEW, value: null });
          } else vbs.push(toVarbind(n.oid, n.value));
        });
        break;
      case PDU.getBulk: {
        if (v1) return this.drop();
        const nonRep = Math.max(0, Math.min(pdu.nonRepeaters ?? 0, reqVbs.length));
        const maxRep = Math.max(0, Math.min(pdu.maxRepetitions ?? 0, MAX_REPETITIONS));
        for (const vb of reqVbs.slice(0, nonRep)) {
          const n = tree.next(parseOid(vb.oid), ctx);
          vbs.push(n ? toVarbind(n.oid, n.value) : { oid: vb.oid, type: END_OF_MIB_VIEW, value: null });
        }
        const cursors = reqVbs.slice(nonRep).map((vb) => vb.oid);
        for (let r = 0; r < maxRep && cursors.length > 0 && vbs.length < MAX_VARBINDS; r++) {
          let allEnded = true;
          for (let k = 0; k < cursors.length && vbs.length < MAX_VARBINDS; k++) {
            const n = tree.next(parseOid(cursors[k]!), ctx);
            if (n) {
              allEnded = false;
              cursors[k] = n.oid;
              vbs.push(toVarbind(n.oid, n.value));
            } else vbs.push({ oid: cursors[k]!, type: END_OF_MIB_VIEW, value: null });
          }
          if (allEnded) break;
        }
        break;
      }
      case PDU.set: {
        // Read-only: an object we have is notWritable, anything else noAccess (RFC 3416 §4.2.5); v1: noSuchName.
        this.counters.setsRefused++;
        const first = reqVbs[0];
        const exists = first ? typeof tree.get(parseOid(first.oid), ctx) !== 'string' : false;
        fail(v1 ? ERR.noSuchName : exists ? ERR.notWritable : ERR.noAccess, reqVbs.length ? 1 : 0);
        for (const vb of reqVbs) vbs.push({ oid: vb.oid, type: vb.type, value: vb.value });
        break;
      }
      default:
        return this.drop();
    }

    resp.varbinds = vbs;
    let out = this.encode(m, resp);
    if (out.length <= MAX_MESSAGE_OCTETS) return out;
    if (pdu.type === PDU.getBulk) {
      // RFC 3416 §4.2.3: fewer repetitions rather than tooBig.
      let keep = Math.floor((vbs.length * MAX_MESSAGE_OCTETS) / out.length);
      while (keep > 0) {
        resp.varbinds = vbs.slice(0, keep);
        out = this.encode(m, resp);
        if (out.length <= MAX_MESSAGE_OCTETS) return out;
        keep--;
      }
    }
    // RFC 3416 §4.2.1: tooBig, error-index 0, no variable bindings.
    this.counters.tooBigs++;
    resp.varbinds = [];
    fail(ERR.tooBig, 0);
    return this.encode(m, resp);
  }

  private drop(): undefined {
    this.counters.silentDrops++;
    return undefined;
  }

  private encode(m: AgentMessage, resp: AgentPdu): Buffer {
    const msg = m.createResponseForRequest(resp);
    if (msg.msgSecurityParameters) {
      // The agent is the authoritative engine of its responses (RFC 3414 §3.1.1).
      msg.msgSecurityParameters.msgAuthoritativeEngineBoots = this.o.engine.engineBoots();
      msg.msgSecurityParameters.msgAuthoritativeEngineTime = this.o.engine.engineTime();
    }
    return msg.toBuffer();
  }
}

interface AgentVarbind {
  oid: string;
  type: number;
  value: unknown;
}

function toVarbind(oid: string, v: SmiValue): AgentVarbind {
  return { oid, type: TYPES[v.type], value: v.value };
}

/** "1.3.6.1.2.1.1.1.0" as numbers; bounded by what BER could carry in a datagram. */
function parseOid(oid: string): number[] {
  return oid.split('.', 128).map((x) => Number(x));
}

// ------------------------------------------------------------------ BER header

type Header = { version: number; community: string } | V3Header;
interface V3Header {
  version: 3;
  community: string;
  engineId: Buffer;
  boots: number;
  time: number;
  userName: string;
}

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

/** One BER TLV at `pos` within [pos, limit), or undefined when malformed or truncated. */
function tlv(buf: Buffer, pos: number, limit: number): Tlv | undefined {
  if (pos + 2 > limit) return undefined;
  const tag = buf[pos]!;
  let len = buf[pos + 1]!;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  const end = start + len;
  return end > limit ? undefined : { tag, start, end };
}

function intOf(buf: Buffer, t: Tlv): number | undefined {
  const n = t.end - t.start;
  if (t.tag !== 0x02 || n < 1 || n > 5) return undefined;
  let v = buf[t.start]! & 0x80 ? -1 : 0;
  for (let i = t.start; i < t.end; i++) v = v * 256 + buf[i]!;
  return v;
}

/**
 * The outer structure of an SNMP message, checked without net-snmp:
 * SEQUENCE { version, community | (header, securityParameters ...) }
 * filling the whole datagram. Undefined when malformed or truncated.
 */
function readHeader(buf: Buffer): Header | undefined {
  const top = tlv(buf, 0, buf.length);
  if (!top || top.tag !== 0x30 || top.end !== buf.length) return undefined;
  const ver = tlv(buf, top.start, top.end);
  const version = ver && intOf(buf, ver);
  if (!ver || version === undefined) return undefined;
  if (version !== 3) {
    const com = tlv(buf, ver.end, top.end);
    if (!com || com.tag !== 0x04) return undefined;
    return { version, community: buf.toString('latin1', com.start, com.end) };
  }
  const global = tlv(buf, ver.end, top.end);
  if (!global || global.tag !== 0x30) return undefined;
  const secOctets = tlv(buf, global.end, top.end);
  if (!secOctets || secOctets.tag !== 0x04) return undefined;
  const sec = tlv(buf, secOctets.start, secOctets.end);
  if (!sec || sec.tag !== 0x30) return undefined;
  const eid = tlv(buf, sec.start, sec.end);
  const bootsT = eid && tlv(buf, eid.end, sec.end);
  const timeT = bootsT && tlv(buf, bootsT.end, sec.end);
  const userT = timeT && tlv(buf, timeT.end, sec.end);
  if (!eid || !bootsT || !timeT || !userT || eid.tag !== 0x04 || userT.tag !== 0x04) return undefined;
  const boots = intOf(buf, bootsT);
  const time = intOf(buf, timeT);
  if (boots === undefined || time === undefined) return undefined;
  return {
    version: 3,
    community: '',
    engineId: buf.subarray(eid.start, eid.end),
    boots,
    time,
    userName: buf.toString('utf8', userT.start, userT.end),
  };
}
