/**
 * The wire to one notification target, with net-snmp: a session (one UDP
 * socket) opened when a notification leaves and closed once nothing is
 * outstanding, so a box holds no socket between notifications (10,000 boxes
 * in one lab cannot hold one each under a 20,000 open-files limit beside
 * their agents). Implements TargetSender for target-queue.ts. An SNMPv2c
 * trap target, the common case, gets v2c-trap.ts's sender instead: the
 * same octets and socket life without a net-snmp session.
 */
import { isIPv6 } from 'node:net';
import snmp, { type InternalMessage, type Session, type Varbind as NetSnmpVarbind } from 'net-snmp';
import type { Logger } from '../lib/logger.js';
import type { SenderSpec } from './sender-spec.js';
import { InformTimeoutError, type TargetSender } from './target-queue.js';
import { toV3User } from './usm.js';
import { createV2cTrapSender } from './v2c-trap.js';
import { toV1Trap, type Notification, type Varbind } from './varbinds.js';

const TYPES = {
  OctetString: snmp.ObjectType.OctetString,
  Integer: snmp.ObjectType.Integer,
  OID: snmp.ObjectType.OID,
} as const;

function toNetSnmp(v: Varbind): NetSnmpVarbind {
  return { oid: v.oid, type: TYPES[v.type], value: v.value };
}

/** net-snmp reads an upTime of 0 as "not given" and puts the process uptime instead: send at least 1 tick. */
function upTime(n: Notification): number {
  return Math.max(1, n.upTimeTicks);
}

/**
 * A TargetSender over a net-snmp session.
 *
 * Two fields net-snmp's API cannot set are set on the message just before
 * net-snmp encodes it, by wrapping the session's `send` (net-snmp builds
 * the message in trap() and encodes it in send(), synchronously):
 * - SNMPv1: enterprise, generic-trap and specific-trap from toV1Trap()
 *   (RFC 3584 §3.2); net-snmp would put enterprise 1.3.6.1.4.1 on every
 *   generic trap and keep the ".0" of an SNMPv2 notification OID.
 * - SNMPv3 traps: msgAuthoritativeEngineBoots/Time = the box's engine
 *   (RFC 3414 §2.3, §3.1.1: the sender of a trap is authoritative);
 *   net-snmp sends 0/0. AES's IV is built from these (RFC 3826 §3.1.2.1),
 *   and they are encoded and encrypted in send(), after the wrap.
 * Informs are untouched: there the receiver is authoritative and net-snmp
 * learns its engine by discovery.
 *
 * Ports: `port` AND `trapPort` are the receiver's port: net-snmp 3.29.2
 * sends a v3 inform after the first to `port` (peers.md §5).
 *
 * A socket error (a source address that cannot be bound) fails every
 * request of the session at once with it, as v2c-trap.ts fails its burst,
 * and closes the socket; the next notification opens a new one.
 */
export function createNetSnmpSender(spec: SenderSpec, logger: Logger): TargetSender {
  // The common case, a v2c trap target, is encoded and sent without a net-snmp session (v2c-trap.ts).
  if (spec.target.kind === 'traps' && spec.target.version === '2c') return createV2cTrapSender(spec, logger);
  const { target, user, engine } = spec;
  const options = {
    port: target.port,
    trapPort: target.port,
    retries: 0, // target-queue.ts retries, with backoff, and counts each one
    timeout: 1500,
    transport: isIPv6(target.host) ? ('udp6' as const) : ('udp4' as const),
    ...(spec.sourceAddress ? { sourceAddress: spec.sourceAddress } : {}),
  };
  const open = (): Session => {
    let session: Session;
    if (target.version === '3') {
      if (!user) throw new Error(`no SNMPv3 user for ${target.host}`);
      // A v3 trap must carry the box's engine ID: the receiver holds the user
      // localized to it (createUser -e <engineId>) and silently drops others.
      const engineID = target.kind === 'traps' ? engine.engineId() : undefined;
      session = snmp.createV3Session(target.host, toV3User(user), {
        ...options,
        ...(engineID ? { engineID } : {}),
      });
    } else {
      const version = target.version === '1' ? snmp.Version1 : snmp.Version2c;
      session = snmp.createSession(target.host, target.community ?? '', { ...options, version });
    }
    // net-snmp emits 'error' for undecodable datagrams; unhandled, that would throw.
    session.on('error', (err: unknown) =>
      logger.debug('snmp session error', { reason: err instanceof Error ? err.message : String(err) }),
    );
    // A socket error (the source address cannot be bound: the host lacks it,
    // or it is of the other family) never reaches the session's listeners:
    // net-snmp 3.29.2 emits it as an event named after the error. And the
    // sends queued behind the failed bind are discarded by Node without a
    // callback, so each request would wait forever holding the socket. End
    // the session here instead, as v2c-trap.ts ends its burst.
    session.dgram.once('error', (err) => {
      logger.debug('snmp session socket error', { reason: err.message });
      abort(session, err);
    });
    const originalSend = session.send.bind(session);
    session.send = (req, noWait) => {
      if (patch) patch(req.message);
      return originalSend(req, noWait);
    };
    return session;
  };

  // EMULATION: the socket lives from a notification's send to its end (a
  // trap: handed to the kernel; an inform: its response or timeout), so each
  // burst leaves from a fresh ephemeral port of the box's address. net-snmp's
  // snmpd keeps one socket per sink; receivers file notifications by source
  // address (real-device.md §2), which stays the box's.
  let current: Session | undefined;
  /** The requests of `current` not yet over, each by its end: called at most once (each guards itself). */
  const pending = new Set<(err: Error | null) => void>();
  /** The open session for one more request `end` (opened now when none is); release(end) once that request is over. */
  const acquire = (end: (err: Error | null) => void): Session => {
    current ??= open();
    pending.add(end);
    return current;
  };
  const closeSession = (s: Session, why: string) => {
    try {
      s.cancelRequests(new Error(why));
      s.close();
    } catch (err) {
      logger.debug('snmp session close failed', { reason: err instanceof Error ? err.message : String(err) });
    }
  };
  /** One request is over: close the socket when it was the last. */
  const release = (end: (err: Error | null) => void) => {
    if (!pending.delete(end)) return; // the session was aborted meanwhile
    if (pending.size > 0 || !current) return;
    const s = current;
    current = undefined;
    closeSession(s, 'SNMP notification finished');
  };
  /** End session `s` now: every request still pending fails with `err`, then the socket closes. */
  const abort = (s: Session, err: Error) => {
    if (current !== s) return;
    current = undefined;
    const ending = [...pending];
    pending.clear();
    for (const end of ending) end(err);
    closeSession(s, err.message);
  };

  let patch: ((m: InternalMessage) => void) | undefined;

  const trapV1 = (session: Session, n: Notification, cb: (err: Error | null) => void) => {
    const v1 = toV1Trap(n);
    patch = (m) => {
      if (m.pdu.type !== snmp.PduType.Trap) return;
      m.pdu.enterprise = v1.enterprise;
      m.pdu.generic = v1.genericTrap;
      m.pdu.specific = v1.specificTrap;
    };
    session.trap(n.trapOid, v1.varbinds.map(toNetSnmp), { agentAddr: spec.agentAddr, upTime: upTime(n) }, cb);
  };

  const trapV3 = (session: Session, n: Notification, cb: (err: Error | null) => void) => {
    patch = (m) => {
      if (m.pdu.type !== snmp.PduType.TrapV2 || !m.msgSecurityParameters) return;
      m.msgSecurityParameters.msgAuthoritativeEngineBoots = engine.engineBoots();
      m.msgSecurityParameters.msgAuthoritativeEngineTime = engine.engineTime();
    };
    session.trap(n.trapOid, n.varbinds.map(toNetSnmp), { upTime: upTime(n) }, cb);
  };

  return {
    trap(n) {
      return new Promise<void>((resolve, reject) => {
        let settled = false;
        const cb = (err: Error | null) => {
          if (settled) return;
          settled = true;
          release(cb);
          if (err) reject(err);
          else resolve();
        };
        try {
          const session = acquire(cb);
          if (target.version === '1') trapV1(session, n, cb);
          else if (target.version === '3') trapV3(session, n, cb);
          else session.trap(n.trapOid, n.varbinds.map(toNetSnmp), { upTime: upTime(n) }, cb);
        } catch (err) {
          cb(err instanceof Error ? err : new Error(String(err)));
        } finally {
          patch = undefined;
        }
      });
    },

    inform(n, timeoutMs) {
      return new Promise<void>((resolve, reject) => {
        let settled = false;
        const done = (err: Error | null) => {
          if (settled) return;
          settled = true;
          release(done);
          if (!err) resolve();
          else if (err.name === 'RequestTimedOutError') reject(new InformTimeoutError(timeoutMs));
          else reject(err);
        };
        try {
          const session = acquire(done);
          // Read by net-snmp when it creates each request (a v3 inform makes
          // two: discovery, then the inform); one queue uses one value.
          session.timeout = timeoutMs;
          session.inform(n.trapOid, n.varbinds.map(toNetSnmp), { upTime: upTime(n) }, done);
        } catch (err) {
          done(err instanceof Error ? err : new Error(String(err)));
        }
      });
    },

    close() {
      if (current) abort(current, new Error('SNMP notifier stopped'));
    },
  };
}
