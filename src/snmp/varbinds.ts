/**
 * What each notification carries, as plain data (no net-snmp here, so it
 * can be table-tested): the snmpTrapOID, the objects in MIB order, and the
 * SNMPv1 form of the same notification.
 *
 * Order on the wire (RFC 3416 §4.2.6): sysUpTime.0, snmpTrapOID.0, then the
 * objects of the NOTIFICATION-TYPE's OBJECTS clause. The sender adds the
 * first two; `Notification.varbinds` holds the rest.
 */
import {
  COLD_START,
  NOTIFICATIONS,
  OBJECTS,
  LEVEL,
  SNMP_TRAP_ENTERPRISE_0,
  SNMP_TRAPS,
  GVOS_SIM_OID,
  WARM_START,
  type NotificationKind,
} from './oids.js';

/** One variable binding, typed by its SMI base type. */
export interface Varbind {
  oid: string;
  type: 'OctetString' | 'Integer' | 'OID';
  value: string | number;
}

/** A notification ready to go to any target (the same object goes to every target). */
export interface Notification {
  kind: NotificationKind;
  /** The value of snmpTrapOID.0. */
  trapOid: string;
  /** The objects after sysUpTime.0 and snmpTrapOID.0, in MIB order. */
  varbinds: Varbind[];
  /** sysUpTime.0: hundredths of a second since the box booted (TimeTicks, mod 2^32). */
  upTimeTicks: number;
}

/** The box facts every notification carries. */
export interface BoxFacts {
  boxId: number;
  hostname: string;
  /** Product model (gigamonSnmpNotifHardWareName), e.g. GigaVUE-HC2. */
  model: string;
  /** sysObjectID.0 of the box: the enterprise of its SNMPv1 generic traps (default gvosSimMIB). */
  sysObjectId?: string;
}

/** The certificate facts of a certificate notification (from a device CertificateEvent). */
export interface CertificateFacts {
  domain: string;
  serial: string;
  expiresMs: number;
  reason?: string;
  previousSerial?: string;
  daysLeft?: number;
}

export type CertificateKind = Extract<
  NotificationKind,
  | 'cert-issued'
  | 'cert-renewed'
  | 'cert-renewal-failed'
  | 'cert-revoked'
  | 'cert-cleared'
  | 'cert-expiring-soon'
>;

/** The MIB's SIZE (0..255) for the text objects; longer text is cut at a character boundary. */
const MAX_TEXT_OCTETS = 255;

/** TimeTicks from milliseconds of uptime (RFC 2578 §7.1.8: hundredths of a second, mod 2^32). */
export function upTimeTicks(uptimeMs: number): number {
  return Math.floor(Math.max(0, uptimeMs) / 10) % 2 ** 32;
}

/** ISO 8601 UTC without milliseconds (gvosSimCertExpiry). */
export function isoUtc(ms: number): string {
  const iso = new Date(ms).toISOString(); // ends in ".sssZ" for every year, so the cut needs no pattern
  return `${iso.slice(0, -5)}Z`;
}

/**
 * Text safe for one snmptrapd log line and the MIB's SIZE: control
 * characters become spaces (a newline in a reason must not split the
 * receiver's line), then the text is cut to 255 octets of UTF-8.
 */
export function safeText(s: string, maxOctets = MAX_TEXT_OCTETS): string {
  // eslint-disable-next-line no-control-regex
  const out = s.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  // A UTF-16 unit is at most 3 octets of UTF-8: most texts need no count (this runs for every text of every notification).
  if (out.length * 3 <= maxOctets) return out;
  const bytes = Buffer.from(out, 'utf8');
  if (bytes.length <= maxOctets) return out;
  // Cut at the last character boundary at or before maxOctets (a UTF-8 continuation octet is 10xxxxxx).
  let end = maxOctets;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

function text(oid: string, value: string): Varbind {
  return { oid, type: 'OctetString', value: safeText(value) };
}

function int(oid: string, value: number): Varbind {
  return { oid, type: 'Integer', value };
}

/** hardware name, level, description, box-id, hostname: what every notification starts with. */
function common(kind: NotificationKind, box: BoxFacts, description: string): Varbind[] {
  return [
    text(OBJECTS.hardwareName, box.model),
    int(OBJECTS.level, LEVEL[NOTIFICATIONS[kind].level]),
    text(OBJECTS.description, description),
    int(OBJECTS.boxId, box.boxId),
    text(OBJECTS.hostname, box.hostname),
  ];
}

/** The one-line description (gigamonSnmpNotifDescription) of a certificate event. */
function describeCertificate(kind: CertificateKind, c: CertificateFacts): string {
  const expires = isoUtc(c.expiresMs);
  switch (kind) {
    case 'cert-issued':
      return `ACME certificate for ${c.domain} issued, serial ${c.serial}, expires ${expires}`;
    case 'cert-renewed':
      return `ACME certificate for ${c.domain} renewed, serial ${c.previousSerial ?? '?'} replaced by ${c.serial}, expires ${expires}`;
    case 'cert-renewal-failed':
      return `Renewal of the ACME certificate for ${c.domain} failed: ${c.reason ?? 'unknown reason'}`;
    case 'cert-revoked':
      return `Certificate ${c.serial} for ${c.domain} revoked at the CA (${c.reason ?? 'unspecified'})`;
    case 'cert-cleared':
      return `ACME certificate for ${c.domain} cleared; the web server uses the default certificate`;
    case 'cert-expiring-soon':
      return `ACME certificate for ${c.domain} expires in ${c.daysLeft ?? '?'} days (${expires}) with no renewal before then`;
  }
}

/**
 * A certificate notification: the common objects, then domain, serial and
 * expiry, then what the kind adds (MIB OBJECTS order): previous serial
 * (renewed), reason (renewal failed, revoked, cleared), days left
 * (expiring soon).
 */
export function certificateNotification(
  kind: CertificateKind,
  box: BoxFacts,
  c: CertificateFacts,
  uptimeMs: number,
): Notification {
  const varbinds = [
    ...common(kind, box, describeCertificate(kind, c)),
    text(OBJECTS.domain, c.domain),
    text(OBJECTS.certSerial, c.serial),
    text(OBJECTS.certExpiry, isoUtc(c.expiresMs)),
  ];
  if (kind === 'cert-renewed') varbinds.push(text(OBJECTS.certPreviousSerial, c.previousSerial ?? ''));
  if (kind === 'cert-renewal-failed' || kind === 'cert-revoked' || kind === 'cert-cleared') {
    varbinds.push(text(OBJECTS.reason, c.reason ?? ''));
  }
  if (kind === 'cert-expiring-soon') varbinds.push(int(OBJECTS.certDaysLeft, c.daysLeft ?? 0));
  return { kind, trapOid: NOTIFICATIONS[kind].oid, varbinds, upTimeTicks: upTimeTicks(uptimeMs) };
}

/**
 * coldStart (the process started) or warmStart (`reload`) of SNMPv2-MIB,
 * with the common objects and snmpTrapEnterprise.0 = the box's sysObjectID,
 * so that the SNMPv1 form has it as its enterprise (RFC 3584 §3.2 (1)), as
 * an agent's generic traps do (RFC 1157 §4.1.6).
 */
export function bootNotification(
  bootKind: 'cold' | 'warm',
  box: BoxFacts,
  version: string,
  uptimeMs: number,
): Notification {
  const kind = bootKind === 'cold' ? 'cold-start' : 'warm-start';
  const what = bootKind === 'cold' ? 'started (cold start)' : 'reloaded (warm start)';
  const varbinds: Varbind[] = [
    ...common(kind, box, `${box.hostname} (box-id ${box.boxId}) ${what}, firmware ${version}`),
    { oid: SNMP_TRAP_ENTERPRISE_0, type: 'OID', value: box.sysObjectId ?? GVOS_SIM_OID },
  ];
  return {
    kind,
    trapOid: bootKind === 'cold' ? COLD_START : WARM_START,
    varbinds,
    upTimeTicks: upTimeTicks(uptimeMs),
  };
}

/** Gigamon's three common objects, exactly (GIGAMON-SNMP-MIB): hardware name, level, description. */
function gigamonCommon(kind: NotificationKind, box: BoxFacts, description: string): Varbind[] {
  return [
    text(OBJECTS.hardwareName, box.model),
    int(OBJECTS.level, LEVEL[NOTIFICATIONS[kind].level]),
    text(OBJECTS.description, description),
  ];
}

/** What a Gigamon notification is about (real-device.md §2). */
export type GigamonEvent =
  | { kind: 'reset'; bootKind: 'cold' | 'warm'; version: string }
  | { kind: 'auth-fail'; user: string; source: string }
  | { kind: 'firmware-change'; previous: string; version: string }
  | { kind: 'config-save'; user: string; fileName: string };

/**
 * One of Gigamon's public notifications, with exactly the public MIB's
 * objects: gigamonSnmpNotifHardWareName, gigamonSnmpNotifLevel,
 * gigamonSnmpNotifDescription, then the one object each adds (user name,
 * firmware name, file name). No simulator object: a receiver rule written
 * for a real box matches.
 */
export function gigamonNotification(e: GigamonEvent, box: BoxFacts, uptimeMs: number): Notification {
  let extra: Varbind[] = [];
  let description: string;
  switch (e.kind) {
    case 'reset':
      description = `System ${box.hostname} ${e.bootKind === 'cold' ? 'cold' : 'warm'} start, firmware ${e.version}`;
      break;
    case 'auth-fail':
      description = `User authentication failed for ${e.user} from ${e.source}`;
      extra = [text(OBJECTS.userName, e.user)];
      break;
    case 'firmware-change':
      description = `Firmware changed from ${e.previous} to ${e.version}`;
      extra = [text(OBJECTS.firmwareName, e.version)];
      break;
    case 'config-save':
      description = `Configuration saved to ${e.fileName} by ${e.user}`;
      extra = [text(OBJECTS.fileName, e.fileName)];
      break;
  }
  return {
    kind: e.kind,
    trapOid: NOTIFICATIONS[e.kind].oid,
    varbinds: [...gigamonCommon(e.kind, box, description), ...extra],
    upTimeTicks: upTimeTicks(uptimeMs),
  };
}

/** The send-test notification (gvosSimTest). */
export function testNotification(box: BoxFacts, uptimeMs: number): Notification {
  const varbinds = common('test', box, `Test notification from ${box.hostname} (box-id ${box.boxId})`);
  return { kind: 'test', trapOid: NOTIFICATIONS.test.oid, varbinds, upTimeTicks: upTimeTicks(uptimeMs) };
}

/** The fields of an SNMPv1 Trap-PDU (RFC 1157 §4.1.6). */
export interface V1Trap {
  enterprise: string;
  genericTrap: number;
  specificTrap: number;
  varbinds: Varbind[];
}

/**
 * The SNMPv1 form of a notification, per RFC 3584 §3.2:
 * - a standard trap (snmpTraps.N: coldStart, warmStart, ...): generic-trap
 *   N-1, specific-trap 0, enterprise = snmpTrapEnterprise.0 if present,
 *   else snmpTraps;
 * - any other: generic-trap 6 (enterpriseSpecific), specific-trap = the
 *   last sub-identifier, enterprise = the OID without its last
 *   sub-identifier, and without the next-to-last one too when that is 0
 *   (gvosSimMIB.0.4 -> enterprise gvosSimMIB, specific 4), so that a
 *   receiver's §3.1 translation gives back the same snmpTrapOID.
 * The varbinds are the objects without snmpTrapEnterprise.0, which the
 * enterprise field carries. (Counter64 would make a notification
 * untranslatable, §3.2 (5); none of ours has one.)
 */
export function toV1Trap(n: Notification): V1Trap {
  const subIds = n.trapOid.split('.');
  const last = Number(subIds[subIds.length - 1]);
  const varbinds = n.varbinds.filter((v) => v.oid !== SNMP_TRAP_ENTERPRISE_0);
  const parent = subIds.slice(0, -1).join('.');
  if (parent === SNMP_TRAPS && last >= 1 && last <= 6) {
    const ent = n.varbinds.find((v) => v.oid === SNMP_TRAP_ENTERPRISE_0);
    return {
      enterprise: ent ? String(ent.value) : SNMP_TRAPS,
      genericTrap: last - 1,
      specificTrap: 0,
      varbinds,
    };
  }
  const nextToLast = subIds[subIds.length - 2];
  const enterprise = nextToLast === '0' ? subIds.slice(0, -2).join('.') : parent;
  return { enterprise, genericTrap: 6, specificTrap: last, varbinds };
}
