/**
 * How to run Net-SNMP's snmptrapd as a receiver of this project's
 * notifications: the config text (communities, v3 users), the command line
 * (the project's MIB, one parseable line per notification), readiness, and
 * the parser of those lines. Shared by the test harness
 * (test/harness/snmptrapd.ts) and the lab. No net-snmp (npm) here.
 *
 * Findings behind the choices (peers.md §5, checked again with 5.9.3):
 * - a v3 TRAP is accepted only for a user bound to the SENDER's engine ID
 *   (`createUser -e 0x<engineId>`); for a v3 INFORM the receiver is
 *   authoritative, so the same user is created without -e. Others are
 *   dropped silently.
 * - `engineID` in snmptrapd.conf takes text, not hex: it is left out here
 *   (snmptrapd makes one and keeps it in SNMP_PERSISTENT_DIR).
 * - `-C` skips /etc/snmp; SNMP_PERSISTENT_DIR keeps it out of /var/lib/snmp.
 * - `-M <mibs>` alone loads only this project's MIB (Debian has no IETF
 *   MIBs; the module needs none: see its header).
 * - Logging to a FILE, not a pipe: a reader that falls behind would block
 *   snmptrapd's writes and its socket buffer would overflow.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SnmpUser } from '../device/model.js';
import { MIB_MODULE } from './oids.js';

/** Auth protocol names as snmptrapd's createUser takes them. */
type TrapdAuth = 'MD5' | 'SHA' | 'SHA-224' | 'SHA-256' | 'SHA-384' | 'SHA-512';
/** Privacy protocol names as snmptrapd's createUser takes them (AES = AES-128; AES256 = Blumenthal key extension). */
type TrapdPriv = 'DES' | 'AES' | 'AES192' | 'AES256';

/** A USM user of the receiver. */
export interface TrapdUser {
  name: string;
  /**
   * Hex engine ID (no 0x) of the sender this user is bound to: required to
   * accept v3 TRAPS from that sender; leave out for INFORMS.
   */
  engineId?: string;
  auth?: { protocol: TrapdAuth; password: string };
  priv?: { protocol: TrapdPriv; password: string };
}

/** What the receiver accepts. */
export interface TrapdConfig {
  /** v1/v2c communities accepted (authCommunity log). */
  communities: string[];
  users: TrapdUser[];
  /** Accept any community and user (disableAuthorization yes): for a lab that should log everything. */
  acceptAll?: boolean;
}

const AUTH_NAMES: Record<NonNullable<SnmpUser['auth']>['protocol'], TrapdAuth> = {
  md5: 'MD5',
  sha: 'SHA',
  sha256: 'SHA-256',
  sha512: 'SHA-512',
};
const PRIV_NAMES: Record<NonNullable<SnmpUser['priv']>['protocol'], TrapdPriv> = {
  des: 'DES',
  'aes-128': 'AES',
  'aes-256': 'AES256',
};

/** The receiver's twin of a box's SNMPv3 user; pass the box's engine ID for a traps receiver. */
export function trapdUserFor(u: SnmpUser, engineId?: string): TrapdUser {
  const out: TrapdUser = { name: u.name };
  if (engineId) out.engineId = engineId;
  if (u.auth) out.auth = { protocol: AUTH_NAMES[u.auth.protocol], password: u.auth.password };
  if (u.priv) out.priv = { protocol: PRIV_NAMES[u.priv.protocol], password: u.priv.password };
  return out;
}

/**
 * The snmptrapd.conf line that creates `u`, e.g.
 * `createUser -e 0x800068f2030211aabbccdd trapuser SHA-256 "authpass" AES "privpass"`.
 * Passphrases are quoted (net-snmp's config reader honours double quotes).
 */
export function createUserLine(u: TrapdUser): string {
  const parts = ['createUser'];
  if (u.engineId) parts.push('-e', `0x${u.engineId}`);
  parts.push(u.name);
  if (u.auth) {
    parts.push(u.auth.protocol, quote(u.auth.password));
    if (u.priv) parts.push(u.priv.protocol, quote(u.priv.password));
  }
  return parts.join(' ');
}

function quote(s: string): string {
  if (/["\r\n]/.test(s)) throw new Error('snmptrapd passphrases cannot contain double quotes or newlines');
  return `"${s}"`;
}

/** The minimum security level snmptrapd's authUser takes for `u`. */
function minLevel(u: TrapdUser): 'noauth' | 'auth' | 'priv' {
  return u.priv ? 'priv' : u.auth ? 'auth' : 'noauth';
}

/** The text of snmptrapd.conf for `c`. Contains passphrases: write it 0600. */
export function trapdConfigText(c: TrapdConfig): string {
  const lines = ['# snmptrapd.conf written by gvos-sim (src/snmp/trapd-launcher.ts)'];
  // Keep no notification log table in memory: a lab receiver runs for long.
  lines.push('doNotRetainNotificationLogs yes');
  if (c.acceptAll) lines.push('disableAuthorization yes');
  for (const community of c.communities) {
    if (!/^[\x21-\x7e]+$/.test(community))
      throw new Error(`community "${community}" must be printable ASCII without spaces`);
    lines.push(`authCommunity log ${community}`);
  }
  const authorized = new Set<string>();
  for (const u of c.users) {
    lines.push(createUserLine(u));
    // One authUser per name: the lowest level any of its entries needs.
    if (!authorized.has(u.name)) {
      authorized.add(u.name);
      const level = c.users
        .filter((x) => x.name === u.name)
        .map(minLevel)
        .sort((a, b) => LEVEL_ORDER[a] - LEVEL_ORDER[b])[0];
      lines.push(`authUser log ${u.name} ${level}`);
    }
  }
  return lines.join('\n') + '\n';
}

const LEVEL_ORDER = { noauth: 0, auth: 1, priv: 2 } as const;

/**
 * The -F format: one line per notification, fields separated by '|', the
 * varbinds last (tab-separated, as %v prints them):
 * GVOSSIM|time|transport|security|enterprise|generic|specific|agent-addr|varbinds
 * (%t: seconds since the epoch when snmptrapd received it, for `lab traps`'
 * time column; %a: the v1 agent-addr as an IP address; %A would print a host
 * name.) Lines without the time field (logs written before it) still parse.
 */
export const TRAPD_FORMAT = 'GVOSSIM|%t|%b|%P|%N|%w|%q|%a|%v\\n';

/** The line prefix of a notification in the log. */
export const TRAPD_LINE_PREFIX = 'GVOSSIM|';

/** Printed by snmptrapd once it listens (after opening its transports). */
export const TRAPD_READY_TEXT = 'NET-SNMP version';

/** Where snmptrapd should run. */
export interface TrapdLaunchOptions {
  host: string;
  port: number;
  configPath: string;
  pidPath: string;
  /** SNMP_PERSISTENT_DIR: a private, writable directory. */
  persistentDir: string;
  /** MIB directories for -M; default: this project's mibs/. */
  mibDirs?: string[];
  /** MIB modules for -m; default: the project's module. 'ALL' loads every module in mibDirs. */
  mibModules?: string[] | 'ALL';
  /** Numeric OIDs (-On) instead of names. */
  numeric?: boolean;
}

/** The command line and environment; spawn with stdout and stderr to a log file. */
export interface TrapdLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** The snmptrapd command for `o`: foreground, log to stdout, no system config, the project's MIB. */
export function trapdLaunch(o: TrapdLaunchOptions): TrapdLaunch {
  const mibDirs = o.mibDirs ?? [projectMibDir()];
  const modules = o.mibModules === 'ALL' ? 'ALL' : (o.mibModules ?? [MIB_MODULE]).join(':');
  const listen = o.host.includes(':') ? `udp6:[${o.host}]:${o.port}` : `udp:${o.host}:${o.port}`;
  const args = [
    '-f',
    '-Lo',
    '-n',
    '-C',
    '-c',
    o.configPath,
    '-p',
    o.pidPath,
    '-M',
    mibDirs.join(':'),
    '-m',
    modules,
  ];
  if (o.numeric) args.push('-On');
  // snmptrapd turns the two characters \n of the format into a newline.
  args.push('-F', TRAPD_FORMAT, listen);
  return { command: 'snmptrapd', args, env: { SNMP_PERSISTENT_DIR: o.persistentDir } };
}

/** The project's mibs/ directory (found upwards from this file, so it works from src/ and dist/). */
export function projectMibDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'mibs', `${MIB_MODULE}.txt`))) return join(dir, 'mibs');
    dir = dirname(dir);
  }
  throw new Error(`mibs/${MIB_MODULE}.txt not found above ${fileURLToPath(import.meta.url)}`);
}

/** True when a UDP socket listens on `port` (Linux /proc/net/udp and udp6), to confirm readiness. */
export function udpPortBound(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    try {
      const rows = readFileSync(f, 'utf8').split('\n').slice(1);
      // local_address is the second column: "0100007F:3F5A "
      if (rows.some((r) => r.trim().split(/\s+/)[1]?.endsWith(hex))) return true;
    } catch {
      // no procfs: fall back to the ready line alone
      return true;
    }
  }
  return false;
}

/** One variable binding as snmptrapd printed it. */
interface ReceivedVarbind {
  /** Name as printed, module stripped: "gvosSimHostname.0" (or a numeric OID). */
  name: string;
  /** net-snmp's type label: STRING, INTEGER, OID, Timeticks, IpAddress, ... ("" when none printed). */
  type: string;
  /** The value: strings unquoted and unescaped; others as printed ("minor(2)", "GIGAMON-GVOS-SIM-MIB::coldStart"). */
  value: string;
}

/** One notification from the log. */
export interface ReceivedNotification {
  line: string;
  /** When snmptrapd received it (ms since the epoch, whole seconds: %t), if the line says. */
  receivedMs?: number;
  /** "UDP: [127.0.0.1]:40000->[127.0.0.1]:16200" */
  transport: string;
  /** 'TRAP', 'TRAP2' or 'INFORM' as snmptrapd prints them (kept as printed, so a string). */
  pdu: string;
  /** '1', '2c' or '3' as snmptrapd prints them. */
  version: string;
  community?: string;
  user?: string;
  /** The notification's name without its module ("gvosSimCertRevoked", "coldStart"), or its OID when unnamed. */
  name: string;
  /** SNMPv1 fields (empty or 0 for v2c/v3). */
  enterprise: string;
  genericTrap: number;
  specificTrap: string;
  agentAddr: string;
  varbinds: ReceivedVarbind[];
}

/** The value of the varbind whose name (without module) is `name` or `name.0`, if present. */
export function varbindValue(n: ReceivedNotification, name: string): string | undefined {
  return n.varbinds.find((v) => v.name === name || v.name === `${name}.0`)?.value;
}

const V1_GENERIC_NAMES = [
  'coldStart',
  'warmStart',
  'linkDown',
  'linkUp',
  'authenticationFailure',
  'egpNeighborLoss',
];

/** Parse one log line written with TRAPD_FORMAT; undefined for any other line. */
export function parseTrapdLine(line: string): ReceivedNotification | undefined {
  if (!line.startsWith(TRAPD_LINE_PREFIX)) return undefined;
  let body = line.slice(TRAPD_LINE_PREFIX.length);
  // The time field (%t) is all digits; a transport never is.
  const time = /^(\d+)\|/.exec(body);
  if (time) body = body.slice(time[0].length);
  const fields = splitN(body, '|', 7);
  if (fields.length < 7) return undefined;
  const [transport, security, enterprise, generic, specific, agentAddr, vbText] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  // %P: "TRAP2, SNMP v2c, community public" / "INFORM, SNMP v3, user informuser, context "
  const sec = security.split(', ');
  const pdu = sec[0] ?? '';
  const version = (sec[1] ?? '').replace(/^SNMP v/, '');
  const who = sec[2] ?? '';
  const varbinds = vbText === '' ? [] : vbText.split('\t').map(parseVarbind);
  const genericTrap = Number(generic) || 0;
  let name: string;
  if (version === '1') {
    name =
      genericTrap === 6 ? stripModule(specific) : (V1_GENERIC_NAMES[genericTrap] ?? `generic-${genericTrap}`);
  } else {
    const trapOid = varbinds.find(
      (v) => v.name === 'snmpTrapOID.0' || v.name.endsWith('.1.3.6.1.6.3.1.1.4.1.0'),
    );
    name = stripModule(trapOid?.value ?? '');
  }
  const out: ReceivedNotification = {
    line,
    ...(time ? { receivedMs: Number(time[1]) * 1000 } : {}),
    transport,
    pdu,
    version,
    name,
    enterprise: stripModule(enterprise),
    genericTrap,
    specificTrap: stripModule(specific),
    agentAddr,
    varbinds,
  };
  if (who.startsWith('community ')) out.community = who.slice('community '.length);
  if (who.startsWith('user ')) out.user = who.slice('user '.length);
  return out;
}

function parseVarbind(text: string): ReceivedVarbind {
  const eq = text.indexOf(' = ');
  const name = stripModule(eq < 0 ? text : text.slice(0, eq));
  const rest = eq < 0 ? '' : text.slice(eq + 3);
  const m = /^([A-Za-z0-9-]+(?: [A-Za-z0-9-]+)?): ?(.*)$/s.exec(rest);
  const type = m ? m[1]! : '';
  let value = m ? m[2]! : rest;
  if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
    value = value.slice(1, -1).replace(/\\(["\\])/g, '$1');
  }
  return { name, type, value };
}

function stripModule(s: string): string {
  const i = s.indexOf('::');
  return i < 0 ? s : s.slice(i + 2);
}

/** Split on the first n-1 separators; the last field keeps the rest. */
function splitN(s: string, sep: string, n: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (out.length < n - 1) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    out.push(rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  out.push(rest);
  return out;
}
