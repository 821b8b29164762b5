/**
 * What the notifier tells the wire about one target, and the wire's seam:
 * the sender factory host/ passes in (net-snmp-sender.ts in production,
 * fakes in tests). No net-snmp here, so the notifier depends on no
 * concrete sender.
 */
import { isIP, isIPv6 } from 'node:net';
import type { SnmpTarget, SnmpUser } from '../device/model.js';
import type { Logger } from '../lib/logger.js';
import type { TargetSender } from './target-queue.js';
import type { LocalEngine } from './usm.js';

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
