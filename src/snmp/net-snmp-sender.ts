/**
 * The wire to one notification target, with net-snmp: one session (one UDP
 * socket) per target. Implements TargetSender for target-queue.ts.
 */
import { isIP, isIPv6 } from 'node:net';
import snmp, {
  type InternalMessage,
  type Session,
  type V3User,
  type Varbind as NetSnmpVarbind,
} from 'net-snmp';
import type { SnmpTarget, SnmpUser } from '../device/model.js';
import type { Logger } from '../lib/logger.js';
import { InformTimeoutError, type TargetSender } from './target-queue.js';
import { toV1Trap, type Notification, type Varbind } from './varbinds.js';

/** The local SNMP engine, as a v3 trap needs it (RFC 3414 §2.3: the sender of a trap is authoritative). */
export interface LocalEngine {
  /** Hex, no 0x. */
  engineId(): string;
  engineBoots(): number;
  engineTime(): number;
}

/** Everything a sender needs about its target. */
export interface SenderSpec {
  target: SnmpTarget;
  /** The v3 user of a version 3 target. */
  user?: SnmpUser;
  engine: LocalEngine;
  /** agent-addr of SNMPv1 traps (RFC 1157 §4.1.6): the box's IPv4 management address. */
  agentAddr: string;
  /**
   * The local address the session's socket binds (any port): the box's own
   * address, so receivers that file a v2c/v3 notification under its UDP
   * source (snmptrapd `%b`, LibreNMS, Zabbix) see this box, not the process.
   * Omitted when the target's family differs (an IPv4 box, an IPv6 target).
   */
  sourceAddress?: string;
}

/**
 * The source address a box's notifications to `targetHost` leave from: the
 * box's address when both are of the same family, else undefined (the
 * kernel chooses). `show snmp host` prints the same.
 */
export function sourceAddressFor(boxAddress: string, targetHost: string): string | undefined {
  if (!isIP(boxAddress)) return undefined;
  return isIPv6(boxAddress) === isIPv6(targetHost) ? boxAddress : undefined;
}

/** Makes the sender of a target; the notifier's seam for tests. */
export type SenderFactory = (spec: SenderSpec, logger: Logger) => TargetSender;

/**
 * Why a target cannot be served, or undefined when it can. Checked before
 * a session is made, so a bad target costs a counted drop and one log
 * line, never an exception in the event path.
 */
export function senderProblem(target: SnmpTarget, user: SnmpUser | undefined): string | undefined {
  if (target.version === '3') {
    if (!user) return `SNMPv3 user "${target.user ?? ''}" does not exist; add it with "snmp-server user ..."`;
    // Node 20 runs OpenSSL 3, whose default provider has no DES-CBC: net-snmp
    // fails with "digital envelope routines::unsupported" (peers.md §5).
    if (user.priv?.protocol === 'des')
      return `SNMPv3 user "${user.name}" uses DES privacy, which this runtime cannot encrypt; use aes-128 or aes-256`;
  } else if (!target.community) {
    return 'an SNMPv1/v2c target needs a community';
  }
  return undefined;
}

const AUTH = {
  md5: snmp.AuthProtocols.md5,
  sha: snmp.AuthProtocols.sha,
  sha256: snmp.AuthProtocols.sha256,
  sha512: snmp.AuthProtocols.sha512,
} as const;

/**
 * aes-256 is net-snmp's aes256b: the Blumenthal key extension, the one
 * Net-SNMP's snmptrapd calls AES256 (its Reeder variant is AES256C / aes256r).
 */
const PRIV = { 'aes-128': snmp.PrivProtocols.aes, 'aes-256': snmp.PrivProtocols.aes256b } as const;

/** The net-snmp form of a USM user: the level follows from which keys it has. */
export function toV3User(u: SnmpUser): V3User {
  const out: V3User = { name: u.name, level: snmp.SecurityLevel.noAuthNoPriv };
  if (u.auth) {
    out.level = snmp.SecurityLevel.authNoPriv;
    out.authProtocol = AUTH[u.auth.protocol];
    out.authKey = u.auth.password;
  }
  if (u.auth && u.priv && u.priv.protocol !== 'des') {
    out.level = snmp.SecurityLevel.authPriv;
    out.privProtocol = PRIV[u.priv.protocol];
    out.privKey = u.priv.password;
  }
  return out;
}

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
 */
export function createNetSnmpSender(spec: SenderSpec, logger: Logger): TargetSender {
  const { target, user, engine } = spec;
  const options = {
    port: target.port,
    trapPort: target.port,
    retries: 0, // target-queue.ts retries, with backoff, and counts each one
    timeout: 1500,
    transport: isIPv6(target.host) ? ('udp6' as const) : ('udp4' as const),
    ...(spec.sourceAddress ? { sourceAddress: spec.sourceAddress } : {}),
  };
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

  let patch: ((m: InternalMessage) => void) | undefined;
  const originalSend = session.send.bind(session);
  session.send = (req, noWait) => {
    if (patch) patch(req.message);
    return originalSend(req, noWait);
  };

  const trapV1 = (n: Notification, cb: (err: Error | null) => void) => {
    const v1 = toV1Trap(n);
    patch = (m) => {
      if (m.pdu.type !== snmp.PduType.Trap) return;
      m.pdu.enterprise = v1.enterprise;
      m.pdu.generic = v1.genericTrap;
      m.pdu.specific = v1.specificTrap;
    };
    session.trap(n.trapOid, v1.varbinds.map(toNetSnmp), { agentAddr: spec.agentAddr, upTime: upTime(n) }, cb);
  };

  const trapV3 = (n: Notification, cb: (err: Error | null) => void) => {
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
        const cb = (err: Error | null) => (err ? reject(err) : resolve());
        try {
          if (target.version === '1') trapV1(n, cb);
          else if (target.version === '3') trapV3(n, cb);
          else session.trap(n.trapOid, n.varbinds.map(toNetSnmp), { upTime: upTime(n) }, cb);
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        } finally {
          patch = undefined;
        }
      });
    },

    inform(n, timeoutMs) {
      return new Promise<void>((resolve, reject) => {
        // Read by net-snmp when it creates each request (a v3 inform makes
        // two: discovery, then the inform); one queue uses one value.
        session.timeout = timeoutMs;
        try {
          session.inform(n.trapOid, n.varbinds.map(toNetSnmp), { upTime: upTime(n) }, (err) => {
            if (!err) resolve();
            else if (err.name === 'RequestTimedOutError') reject(new InformTimeoutError(timeoutMs));
            else reject(err);
          });
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    },

    close() {
      try {
        session.cancelRequests(new Error('SNMP notifier stopped'));
        session.close();
      } catch (err) {
        logger.debug('snmp session close failed', {
          reason: err instanceof Error ? err.message : String(err),
        });
      }
    },
  };
}
