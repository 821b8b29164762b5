/**
 * The data of a box: what the store keeps (BoxDocument) and the configuration
 * types. Plain JSON-able objects, no behaviour.
 *
 * Persistence rules (foundation issue): certificates, keys, the CA list, the
 * web mapping and the ACME state are written at once; the running config
 * (hostname, name servers, users, SNMP, crypto mode) only on `write memory`.
 */
import type { KeyAlgorithm } from '../pki/keys.js';
import { DEFAULT_EXPIRING_SOON_DAYS } from './limits.js';
import type { Role } from './roles.js';

export type CryptoMode = 'classic' | 'secure-crypto' | 'fips';
export const CRYPTO_MODES: readonly CryptoMode[] = ['classic', 'secure-crypto', 'fips'];

/** What makes one box unlike another; fixed at first boot. */
export interface BoxIdentity {
  boxId: number;
  /** Serial number, e.g. "1A4B0023". */
  serial: string;
  /** MAC-like host id, e.g. "52:54:00:12:34:56". */
  hostId: string;
  /** Product model, e.g. "GigaVUE-HC2". */
  model: string;
  /** The agent's sysObjectID when the lab's topology overrides the model's (`sys-object-id`); absent = the model's. */
  sysObjectId?: string;
}

interface UserRecord {
  role: Role;
  /** scrypt hash (device/passwords.ts); never shown. */
  passwordHash: string;
}

/** SNMPv3 authentication and privacy protocols (`snmp-server user ... auth <p> priv <p>`). */
export const SNMP_AUTH_PROTOCOLS = ['md5', 'sha', 'sha256', 'sha512'] as const;
export const SNMP_PRIV_PROTOCOLS = ['des', 'aes-128', 'aes-256'] as const;
export type SnmpAuthProtocol = (typeof SNMP_AUTH_PROTOCOLS)[number];
export type SnmpPrivProtocol = (typeof SNMP_PRIV_PROTOCOLS)[number];

/** An SNMPv3 user (USM). No auth = noAuthNoPriv; auth only = authNoPriv; both = authPriv. */
export interface SnmpUser {
  name: string;
  auth?: { protocol: SnmpAuthProtocol; password: string };
  priv?: { protocol: SnmpPrivProtocol; password: string };
}

/** The USM security level a user gives (RFC 3414). */
export function snmpSecurityLevel(u: SnmpUser): 'noAuthNoPriv' | 'authNoPriv' | 'authPriv' {
  return u.priv ? 'authPriv' : u.auth ? 'authNoPriv' : 'noAuthNoPriv';
}

/** A notification receiver (`snmp-server host ...`). */
export interface SnmpTarget {
  host: string;
  port: number;
  kind: 'traps' | 'informs';
  version: '1' | '2c' | '3';
  /** v1/v2c community. */
  community?: string;
  /** v3 user name (an SnmpUser). */
  user?: string;
  /** Pace of notifications to this target, per second (traps over UDP are lost in bursts). */
  ratePerSec: number;
}

/** Names of the notifications a box can send (`snmp-server notify event <name>`). */
export const SNMP_EVENTS = [
  'cert-issued',
  'cert-renewed',
  'cert-renewal-failed',
  'cert-revoked',
  'cert-cleared',
  'cert-expiring-soon',
  'cold-start',
  'warm-start',
  'reset',
  'config-save',
  'firmware-change',
  'auth-fail',
] as const;
export type SnmpEventName = (typeof SNMP_EVENTS)[number];

/**
 * The events a state file knew when `SnmpConfig.knownEvents` did not exist
 * yet: the certificate events and coldStart/warmStart, before Gigamon's
 * four notifications (reset, config-save, firmware-change, auth-fail).
 */
export const SNMP_EVENTS_BEFORE_GIGAMON: readonly SnmpEventName[] = SNMP_EVENTS.slice(0, 8);

export interface SnmpConfig {
  enabled: boolean;
  notifyEnabled: boolean;
  targets: SnmpTarget[];
  users: SnmpUser[];
  /** Enabled notification events. */
  events: SnmpEventName[];
  /**
   * Every event this box knew when the config was saved: an event added to
   * the simulator later is turned on at the next boot (prepareBoot), as on a
   * fresh box, while one the user turned off stays off. Absent = the events
   * of SNMP_EVENTS_BEFORE_GIGAMON (state files older than the field).
   */
  knownEvents?: SnmpEventName[];
  /** How many days before expiry, with no renewal in sight, the expiring-soon notification is sent. */
  expiringSoonDays: number;
  /** The agent's v1/v2c read-only communities (`snmp-server community <c> ro`); secret, shown masked. Absent = none. */
  communities?: string[];
  /** `snmp-server enable communities` (absent = on). */
  communitiesEnabled?: boolean;
  /** sysContact and sysLocation (`snmp-server contact/location`); absent = empty. */
  contact?: string;
  location?: string;
  /** `snmp-server port <p>`: the agent's UDP port; absent = the box's default (161, or the lab's). */
  agentPort?: number;
}

/** The running configuration; what `show running-config` prints and `write memory` saves. */
export interface RunningConfig {
  hostname: string;
  /** Resolvers, "ip" or "ip:port" (the port form is an EMULATION for labs). */
  nameServers: string[];
  domainList: string[];
  users: Record<string, UserRecord>;
  /** The configured mode; the box runs in it after the next reload. */
  cryptoMode: CryptoMode;
  snmp: SnmpConfig;
  /** `[no] cli default paging enable`: whether CLI sessions page long output unless they say otherwise. Absent = on. */
  cliPaging?: boolean;
}

/** A certificate (with its key when the box has one) in the certificate store. */
export interface CertificateRecord {
  name: string;
  /** Leaf first, then any chain. */
  certPem: string;
  /** PKCS#8/PKCS#1/SEC1 PEM; secret: stored 0600, never shown. */
  keyPem?: string;
  origin: 'default' | 'user' | 'acme';
  addedAtMs: number;
}

/** The name of the default self-signed certificate (`web https certificate default-cert`). */
export const DEFAULT_CERT_NAME = 'default-cert';
/** The name the ACME certificate is stored under (seed: Cert Name : acme-https.crt). */
export const ACME_CERT_NAME = 'acme-https.crt';

export type AcmeRequestType = 'Issue' | 'Renew' | 'Revoke' | 'Clear' | 'Auto-Renew';

/** The ACME certificate currently issued to the box (status block 1). */
export interface AcmeIssued {
  domain: string;
  /**
   * The box's IP address, ordered as a second identifier beside a DNS domain
   * (RFC 8738; a lab's topology option, never the CLI or REST API): renewals
   * and revokes order it again. Absent: the certificate names the domain only.
   */
  address?: string;
  directoryUrl: string;
  keyAlgorithm: KeyAlgorithm;
  certName: string;
  firstIssuedMs: number;
  /** Validity of the current certificate. */
  notBeforeMs: number;
  expiresMs: number;
  serial: string;
  /** null = system computed (a third of the lifetime left). */
  renewDays: number | null;
  /**
   * When the renewal timer fires. null: no renewal planned, because
   * auto-renewal gave up (the certificate expires before another retry);
   * `show crypto acme client info` says n/a, and a manual renew still works.
   */
  nextRenewalMs: number | null;
  lastSuccessfulRenewalMs: number | null;
  lastFailedRenewalMs: number | null;
  lastFailureReason: string | null;
  /** Consecutive failed renewals (drives the retry backoff). */
  failedAttempts: number;
}

/** The last ACME request (status block 2, "Last Request Status Since Bootup"). */
export interface AcmeRequestStatus {
  domain: string;
  directoryUrl: string;
  type: AcmeRequestType;
  status: 'In Progress' | 'Success' | 'Failed';
  reason: string | null;
  startedMs: number;
  finishedMs: number | null;
}

/** An ACME account: one per box and directory, kept across issues. */
export interface AcmeAccountRecord {
  directoryUrl: string;
  /** Account private key PEM; secret. */
  accountKeyPem: string;
  accountUrl: string | null;
}

export interface AcmeState {
  issued: AcmeIssued | null;
  lastRequest: AcmeRequestStatus | null;
  accounts: AcmeAccountRecord[];
}

interface FirmwareState {
  /** Version the box runs. */
  running: string;
  /** Images fetched to the box (versions). */
  fetched: string[];
  /** Installed image that boots on the next reload, if any. */
  nextBoot: string | null;
  /** Installed but not (yet) selected for boot. */
  installed: string | null;
}

/** A configuration file the box keeps beside the active one (`configuration fetch`, `switch-to`). */
interface StoredConfigFile {
  config: RunningConfig;
  /** When it was fetched, or stopped being the active file. */
  storedAtMs: number;
}

/** Everything a box persists, in one document (one owner: store/). */
// EMULATION: certificates, keys, CA list, web mapping and ACME state persist at once; the rest of the running config on `write memory`.
export interface BoxDocument {
  schema: 1;
  identity: BoxIdentity;
  /** The saved (startup) configuration. */
  config: RunningConfig;
  crypto: {
    certificates: Record<string, CertificateRecord>;
    /** Names of certificates trusted as CAs (`crypto certificate ca-list default-ca-list name`). */
    caList: string[];
    /** The certificate the HTTPS server presents. */
    webCert: string;
  };
  acme: AcmeState;
  firmware: FirmwareState;
  snmpEngine: { boots: number };
  /** SSH host key, OpenSSH format; secret. */
  sshHostKey: string;
  /** Configuration files other than the active one, by name (`show configuration files`). Absent = none. */
  configFiles?: Record<string, StoredConfigFile>;
  /** The name of the active configuration file, whose content is `config`. Absent = INITIAL_CONFIG_FILE. */
  activeConfigFile?: string;
}

/** The SNMP configuration of a fresh box. */
export function defaultSnmpConfig(): SnmpConfig {
  return {
    enabled: false,
    notifyEnabled: false,
    targets: [],
    users: [],
    events: [...SNMP_EVENTS],
    knownEvents: [...SNMP_EVENTS],
    expiringSoonDays: DEFAULT_EXPIRING_SOON_DAYS,
  };
}
