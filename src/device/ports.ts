/**
 * What the device needs from the outside, as interfaces it owns (the device
 * imports no feature; main.ts plugs the implementations in).
 */
import type { KeyAlgorithm } from './key-algorithms.js';
import type { BoxDocument, AcmeRequestType, RunningConfig, SnmpTarget } from './model.js';

/** Persists a box's document (store/ implements it). save() is atomic: old or new, never half. */
export interface BoxPersistence {
  save(doc: BoxDocument): Promise<void>;
}

/** What a configuration file carries besides the configuration: where it was saved from. */
export interface ConfigFileContent {
  config: RunningConfig;
  /** The box's model and release when it was saved (informational). */
  model: string;
  release: string;
  /** The file's name on the box it was saved from. */
  name: string;
}

/**
 * Moves configuration files between a box and a URL (`configuration upload`,
 * `configuration fetch`; store/config-file-url.ts implements it for file://).
 * Rejects with a DeviceError that names what to fix; never quotes the file's content.
 */
export interface ConfigFileTransfer {
  /** Write `file` to `url`, readable by its owner only; resolves to the path written. */
  upload(url: string, file: ConfigFileContent): Promise<string>;
  /** Read and check the configuration file at `url`. */
  fetch(url: string): Promise<ConfigFileContent>;
}

/** An ACME request after the device's own checks passed. */
export interface AcmeRequest {
  type: Exclude<AcmeRequestType, 'Clear'>;
  domain: string;
  /** The box's address, ordered beside the DNS domain (AcmeIssued.address); absent: the domain only. */
  address?: string;
  directoryUrl: string;
  keyAlgorithm: KeyAlgorithm;
  renewDays: number | null;
  /** Why a Revoke request revokes (superseded when absent); acme/ maps it to the RFC 5280 code. */
  revocationReason?: RevocationReason;
}

/** The revocation reasons an operator can give (`... revoke domain <d> [key-compromise]`). */
export type RevocationReason = 'superseded' | 'key-compromise';

/** The ACME agent as the device drives it (acme/ implements it). */
export interface AcmeController {
  /**
   * Check what needs the network (the ACME server's TLS against the CA list),
   * mark the request In Progress and run it in the background. Resolves once
   * started; rejects with a DeviceError when a prerequisite fails (nothing
   * started then).
   */
  start(request: AcmeRequest): Promise<void>;
  /** Cancel timers and any running work; map web back to the default certificate. */
  clear(): Promise<void>;
  /** Stop timers and work without changing state (shutdown, reload). */
  stop(): void;
}

/** Counters of one notification target (`show snmp host`). */
export interface SnmpTargetCounters {
  target: SnmpTarget;
  sent: number;
  acknowledged: number;
  retried: number;
  timedOut: number;
  dropped: number;
}

/** Counters of a box's SNMP agent (`show snmp`; SNMPv2-MIB snmp group, RFC 3418 §2). */
export interface SnmpAgentCounters {
  /** Datagrams received (snmpInPkts). */
  inPkts: number;
  /** Responses and reports sent (snmpOutPkts). */
  outPkts: number;
  /** Unknown SNMP version (snmpInBadVersions). */
  badVersions: number;
  /** Unknown community, or no community configured (snmpInBadCommunityNames). */
  badCommunityNames: number;
  /** Undecodable datagrams (snmpInASNParseErrs). */
  asnParseErrs: number;
  /** USM: unknown engine ID, unknown user, wrong digest, not in time window, decryption error, unsupported level. */
  usmErrors: number;
  /** Responses replaced by tooBig (snmpOutTooBigs). */
  tooBigs: number;
  /** SET requests refused (read-only agent). */
  setsRefused: number;
  /** Requests dropped silently: an unsupported PDU type or a response that could not be built (snmpSilentDrops). */
  silentDrops: number;
}

/** Where the box's SNMP agent listens and what it counted. */
export interface SnmpAgentStatus {
  address: string;
  port: number;
  counters: SnmpAgentCounters;
}

/** The SNMP notifier as the device reads it (snmp/ implements it). */
export interface SnmpController {
  /** The SNMPv3 engine ID, hex without 0x. */
  engineId(): string;
  engineBoots(): number;
  /** Seconds since the engine booted. */
  engineTime(): number;
  counters(): SnmpTargetCounters[];
  /** The agent's address, port and counters, when the box runs one. */
  agentStatus(): SnmpAgentStatus | undefined;
  /** The local address notifications to `targetHost` leave from (the box's own), undefined when the kernel picks. */
  sourceAddress(targetHost: string): string | undefined;
  /** Send the test notification to every target; resolves when handed over (informs: when answered or timed out). */
  sendTest(): Promise<void>;
}
