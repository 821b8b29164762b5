/**
 * The device's bounds, defined once: every edge (CLI grammar, REST schema,
 * lab options and topology, the `gvos-sim box` options) imports them from
 * here rather than spelling a number again, so a bound cannot drift between
 * the CLI and the REST API or between the README and the lab.
 */

/** Lowest box-id. */
export const BOX_ID_MIN = 1;
/**
 * Highest box-id. The CLI's `box-id <id>`, the REST API, `gvos-sim box
 * --box-id` and every lab verb accept 1..BOX_ID_MAX; the cluster says which
 * of them exist.
 */
// EMULATION: box-ids are whole numbers 1-65535; the contract does not bound them.
export const BOX_ID_MAX = 65535;

/**
 * Boxes in one lab (one process), at most: the size benchmarked in
 * bench/scale.ts (`--boxes 10000`), with the boxes' TCP listeners in listener
 * processes (src/host/listener-pool.ts; src/lab/open-files.ts says at start
 * whether a topology fits the open-files limit). Box-ids in a lab still range
 * over 1..BOX_ID_MAX.
 */
export const MAX_LAB_BOXES = 10_000;

/** True when `n` is a whole number within the box-id range. */
export function isBoxId(n: number): boolean {
  return Number.isInteger(n) && n >= BOX_ID_MIN && n <= BOX_ID_MAX;
}

/** A hostname (and a domain label): 1-63 letters, digits and hyphens, not starting or ending with a hyphen. */
export const HOSTNAME_PATTERN = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
/** A numeric OID as a sysObjectID (dotted, 2-128 sub-identifiers of at most 10 digits, no leading zeros). */
export const SNMP_OID_PATTERN = /^[0-2](\.(0|[1-9][0-9]{0,9})){1,127}$/;

/** A certificate or user name: 1-64 letters, digits, dot, dash, underscore or @. */
export const NAME_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;

/** Bounded PEM input (CLI contract: up to 64 KiB per value). */
export const MAX_PEM_BYTES = 64 * 1024;

/** TCP/UDP ports a setting may name. */
export const PORT_MIN = 1;
export const PORT_MAX = 65535;

/** `renew-days` of an ACME issue: 1..MAX_RENEW_DAYS. */
export const MAX_RENEW_DAYS = 365;

/** List caps of the running config and the certificate store. */
export const MAX_NAME_SERVERS = 3;
export const MAX_DOMAIN_LIST = 6;
export const MAX_USERS = 64;
export const MAX_CERTIFICATES = 256;
export const MAX_SNMP_TARGETS = 16;
/** EMULATION: at most 16 agent communities, each 1-64 printable characters without spaces. */
export const MAX_SNMP_COMMUNITIES = 16;
export const MAX_SNMP_COMMUNITY_LENGTH = 64;
/** EMULATION: sysContact and sysLocation are 0-255 printable characters (DisplayString). */
export const MAX_SNMP_TEXT_LENGTH = 255;
/** EMULATION: SNMPv3 passphrases have 8 (RFC 3414's minimum) to 64 characters. */
export const SNMP_PASSPHRASE_LENGTH = { min: 8, max: 64 } as const;
/** Configuration files a box keeps, the active one included (`configuration fetch`). EMULATION: bound ours. */
export const MAX_CONFIG_FILES = 16;
/** The largest configuration file `configuration fetch` reads (bytes). EMULATION: bound ours. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** The longest URL a `configuration upload|fetch` takes (characters). EMULATION: bound ours. */
export const MAX_CONFIG_URL_LENGTH = 1024;
/** The name of the active configuration file of a box that never switched (the framework's first file). */
export const INITIAL_CONFIG_FILE = 'initial';

/** The UDP port a box's SNMP agent listens on unless `snmp-server port` or the lab says otherwise. */
export const SNMP_AGENT_PORT = 161;
/** The UDP port a notification receiver listens on when `snmp-server host` names none. */
export const SNMP_TRAP_PORT = 162;
/** Default pace of notifications per target (measured: snmptrapd here takes 2,000/s v2c with both cores busy; 100/s leaves a wide margin). */
export const DEFAULT_SNMP_RATE_PER_SEC = 100;
/** Highest pace a target may be given. */
export const MAX_SNMP_RATE_PER_SEC = 10_000;
/** Days before expiry the expiring-soon notification is sent on a fresh box; 1..MAX_EXPIRING_SOON_DAYS. */
export const DEFAULT_EXPIRING_SOON_DAYS = 7;
export const MAX_EXPIRING_SOON_DAYS = 365;
