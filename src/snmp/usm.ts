/**
 * The box's SNMPv3 identity in net-snmp's terms, shared by the notifier's
 * senders and the agent: the local engine (ID, boots, time) and a box user
 * as a net-snmp USM user. No socket here.
 */
import snmp, { type V3User } from 'net-snmp';
import type { SnmpUser } from '../device/model.js';

/** The local SNMP engine, as a v3 trap needs it (RFC 3414 §2.3: the sender of a trap is authoritative). */
export interface LocalEngine {
  /** Hex, no 0x. */
  engineId(): string;
  engineBoots(): number;
  engineTime(): number;
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
