/**
 * A box's notifications pointed at a test receiver: the v2c target with
 * community `public` (what startTrapReceiver accepts unless told otherwise)
 * that the SNMP integration tests and bench/notifications.ts all set up.
 */
import type { Box } from '../../src/device/box.js';
import type { SnmpTarget } from '../../src/device/model.js';
import { ADMIN } from './boxes.js';

/** The v2c target (community `public`) sending `kind` to `rx` at most `ratePerSec` a second. */
export function v2cTargetAt(
  rx: { host: string; port: number },
  kind: SnmpTarget['kind'],
  ratePerSec: number,
): SnmpTarget {
  return { host: rx.host, port: rx.port, kind, version: '2c', community: 'public', ratePerSec };
}

/** SNMP and its notifications on for `box`, with `rx` a v2c target (v2cTargetAt) of `kind` at `ratePerSec`. */
export function notifyTo(
  box: Box,
  rx: { host: string; port: number },
  kind: SnmpTarget['kind'],
  ratePerSec: number,
): void {
  box.snmpEnable(ADMIN, true);
  box.snmpNotifyEnable(ADMIN, true);
  box.snmpSetTarget(ADMIN, v2cTargetAt(rx, kind, ratePerSec));
}
