/**
 * The OIDs of the simulator's notifications: the constants of
 * mibs/GIGAMON-GVOS-SIM-MIB.txt (keep the two in step; oids.test.ts checks
 * them against the MIB file) and the standard ones of SNMPv2-MIB.
 *
 * Layout (see the MIB's header for why arc 999):
 *   1.3.6.1.4.1.26866                Gigamon (IANA enterprise 26866)
 *   1.3.6.1.4.1.26866.1.2.{1,2,17}   Gigamon's common notification objects
 *   1.3.6.1.4.1.26866.999            gvosSimMIB (EMULATION: the simulator's own)
 *   1.3.6.1.4.1.26866.999.0.N        its notifications
 *   1.3.6.1.4.1.26866.999.1.N        its objects
 */

/** IANA private enterprise number of Gigamon. */
export const GIGAMON_ENTERPRISE = 26866;

export const GIGAMON_OID = `1.3.6.1.4.1.${GIGAMON_ENTERPRISE}`;

/** gvosSimMIB: the simulator's subtree; also the enterprise of its SNMPv1 traps. */
export const GVOS_SIM_OID = `${GIGAMON_OID}.999`;

/** SNMPv2-MIB (RFC 3418) objects that frame every notification (RFC 3416 §4.2.6). */
export const SYS_UPTIME_0 = '1.3.6.1.2.1.1.3.0';
export const SNMP_TRAP_OID_0 = '1.3.6.1.6.3.1.1.4.1.0';
/** snmpTrapEnterprise.0: the enterprise of a generic trap (RFC 3584 §3.1 (3)). */
export const SNMP_TRAP_ENTERPRISE_0 = '1.3.6.1.6.3.1.1.4.3.0';
/** snmpTraps: the parent of the standard traps; coldStart = .1, warmStart = .2. */
export const SNMP_TRAPS = '1.3.6.1.6.3.1.1.5';
export const COLD_START = `${SNMP_TRAPS}.1`;
export const WARM_START = `${SNMP_TRAPS}.2`;

/** GIGAMON-SNMP-MIB gigamonSnmpNotifications (.1.1): Gigamon's public notifications. */
export const GIGAMON_NOTIFS = `${GIGAMON_OID}.1.1`;

/** Instances (scalar .0) of the objects the notifications carry. */
export const OBJECTS = {
  /** GIGAMON-SNMP-MIB gigamonSnmpNotifFirmwareName. */
  firmwareName: `${GIGAMON_OID}.1.2.10.0`,
  /** GIGAMON-SNMP-MIB gigamonSnmpNotifUserName. */
  userName: `${GIGAMON_OID}.1.2.14.0`,
  /** GIGAMON-SNMP-MIB gigamonSnmpNotifFileName. */
  fileName: `${GIGAMON_OID}.1.2.15.0`,
  /** GIGAMON-SNMP-MIB gigamonSnmpNotifHardWareName: product model. */
  hardwareName: `${GIGAMON_OID}.1.2.17.0`,
  /** GIGAMON-SNMP-MIB gigamonSnmpNotifLevel: information(1) minor(2) major(3) critical(4). */
  level: `${GIGAMON_OID}.1.2.1.0`,
  /** GIGAMON-SNMP-MIB gigamonSnmpNotifDescription. */
  description: `${GIGAMON_OID}.1.2.2.0`,
  boxId: `${GVOS_SIM_OID}.1.1.0`,
  hostname: `${GVOS_SIM_OID}.1.2.0`,
  domain: `${GVOS_SIM_OID}.1.3.0`,
  certSerial: `${GVOS_SIM_OID}.1.4.0`,
  certExpiry: `${GVOS_SIM_OID}.1.5.0`,
  reason: `${GVOS_SIM_OID}.1.6.0`,
  certPreviousSerial: `${GVOS_SIM_OID}.1.7.0`,
  certDaysLeft: `${GVOS_SIM_OID}.1.8.0`,
} as const;

/** Values of gigamonSnmpNotifLevel. */
export const LEVEL = { information: 1, minor: 2, major: 3, critical: 4 } as const;
type Level = keyof typeof LEVEL;

/** What a notification kind is: its OID, MIB name and level. */
export interface NotificationType {
  /** The snmpTrapOID.0 value. */
  oid: string;
  /** The descriptor in the MIB (what snmptrapd prints). */
  name: string;
  level: Level;
}

/**
 * Every notification the simulator sends, keyed by the name used in
 * `snmp-server notify event <name>` (SNMP_EVENTS in device/model.ts) plus
 * `test` (send-test, not an event one can switch off).
 */
export const NOTIFICATIONS = {
  'cert-issued': { oid: `${GVOS_SIM_OID}.0.1`, name: 'gvosSimCertIssued', level: 'information' },
  'cert-renewed': { oid: `${GVOS_SIM_OID}.0.2`, name: 'gvosSimCertRenewed', level: 'information' },
  'cert-renewal-failed': { oid: `${GVOS_SIM_OID}.0.3`, name: 'gvosSimCertRenewalFailed', level: 'major' },
  'cert-revoked': { oid: `${GVOS_SIM_OID}.0.4`, name: 'gvosSimCertRevoked', level: 'minor' },
  'cert-cleared': { oid: `${GVOS_SIM_OID}.0.5`, name: 'gvosSimCertCleared', level: 'information' },
  'cert-expiring-soon': { oid: `${GVOS_SIM_OID}.0.6`, name: 'gvosSimCertExpiringSoon', level: 'major' },
  test: { oid: `${GVOS_SIM_OID}.0.7`, name: 'gvosSimTest', level: 'information' },
  'cold-start': { oid: COLD_START, name: 'coldStart', level: 'information' },
  'warm-start': { oid: WARM_START, name: 'warmStart', level: 'information' },
  // Gigamon's public notifications (GIGAMON-SNMP-MIB; real-device.md §2). EMULATION: their levels.
  reset: { oid: `${GIGAMON_NOTIFS}.1`, name: 'gigamonSnmpResetSystemNotification', level: 'major' },
  'auth-fail': { oid: `${GIGAMON_NOTIFS}.2`, name: 'gigamonSnmpUserAuthFailNotification', level: 'minor' },
  'firmware-change': {
    oid: `${GIGAMON_NOTIFS}.3`,
    name: 'gigamonSnmpFirmwareChangeNotification',
    level: 'information',
  },
  'config-save': {
    oid: `${GIGAMON_NOTIFS}.4`,
    name: 'gigamonSnmpConfigSaveNotification',
    level: 'information',
  },
} as const satisfies Record<string, NotificationType>;

export type NotificationKind = keyof typeof NOTIFICATIONS;

/** The name of the MIB module in mibs/ (snmptrapd -m, snmptranslate -m). */
export const MIB_MODULE = 'GIGAMON-GVOS-SIM-MIB';
