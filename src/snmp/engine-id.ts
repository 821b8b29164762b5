/**
 * The SNMPv3 engine of a box: its snmpEngineID (RFC 3411 §5,
 * SnmpEngineID), built from Gigamon's enterprise number and the box's
 * identity, so it is stable across restarts and unique per box.
 */
import type { BoxIdentity } from '../device/model.js';
import { GIGAMON_ENTERPRISE } from './oids.js';

/** RFC 3411 SnmpEngineID formats (the fifth octet when the first bit is 1). */
const FORMAT_MAC = 0x03;
const FORMAT_TEXT = 0x04;

/** RFC 3411: an engine ID has 5 to 32 octets; the text format at most 27 after the 5-octet prefix. */
const MAX_TEXT_OCTETS = 27;

/**
 * The engine ID of a box, as lower-case hex without 0x (the form
 * `createUser -e 0x<id>` in snmptrapd.conf takes after the 0x).
 *
 * RFC 3411 §5: octets 1-4 are the enterprise number with the first bit set
 * (26866 = 0x68F2 -> 80 00 68 F2), octet 5 the format: 03 = a MAC address
 * (6 octets) from the box's host id, the usual choice of real devices. If
 * the host id is not a MAC, 04 = text, the box's serial number. Both come
 * from the identity fixed at first boot, so the ID never changes for a box.
 */
export function engineIdFor(identity: Pick<BoxIdentity, 'hostId' | 'serial'>): string {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE((0x80000000 | GIGAMON_ENTERPRISE) >>> 0);
  const mac = parseMac(identity.hostId);
  if (mac) return Buffer.concat([prefix, Buffer.from([FORMAT_MAC]), mac]).toString('hex');
  const text = Buffer.from(identity.serial, 'utf8').subarray(0, MAX_TEXT_OCTETS);
  return Buffer.concat([prefix, Buffer.from([FORMAT_TEXT]), text]).toString('hex');
}

/** Six octets from "aa:bb:cc:dd:ee:ff" (or with '-'), else undefined. */
function parseMac(s: string): Buffer | undefined {
  const m =
    /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(
      s,
    );
  return m ? Buffer.from(m.slice(1).join(''), 'hex') : undefined;
}

/** RFC 3414 §2.2: snmpEngineBoots and snmpEngineTime are 0..2^31-1; boots latches at the maximum. */
export const MAX_ENGINE_VALUE = 2147483647;

/** snmpEngineTime: whole seconds since the engine (the box) booted, never negative, capped per RFC 3414. */
export function engineTimeSeconds(nowMs: number, bootedAtMs: number): number {
  return Math.min(MAX_ENGINE_VALUE, Math.max(0, Math.floor((nowMs - bootedAtMs) / 1000)));
}
