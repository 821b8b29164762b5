/**
 * The typed events a box emits. Features talk to each other only through
 * these: the ACME agent installs a certificate and the box emits
 * `web-certificate-changed` (the web server swaps) and `certificate-issued`
 * (the notifier traps).
 */
import type { AcmeRequestStatus } from './model.js';
import type { Actor } from './roles.js';

/** The ways into a box that take a password. */
export type LoginTransport = 'ssh' | 'tcp' | 'rest';

/** Facts carried by every certificate event. */
export interface CertificateEvent {
  boxId: number;
  hostname: string;
  domain: string;
  /** Serial (upper-case hex) of the certificate the event is about. */
  serial: string;
  expiresMs: number;
  /** Why (renewal failures, revocation reason, clear). */
  reason?: string;
}

export interface DeviceEvents {
  /** The HTTPS server must present this certificate from the next handshake on. */
  'web-certificate-changed': { boxId: number; certName: string; certPem: string; keyPem: string };
  'certificate-issued': CertificateEvent;
  'certificate-renewed': CertificateEvent & { previousSerial: string };
  'certificate-renewal-failed': CertificateEvent;
  /** The old certificate was revoked at the CA (seed: a trap goes to the manager). */
  'certificate-revoked': CertificateEvent;
  'certificate-cleared': CertificateEvent;
  'certificate-expiring-soon': CertificateEvent & { daysLeft: number };
  /** An ACME request was recorded In Progress (any interface, or the renewal timer: type Auto-Renew). */
  'acme-request-started': { boxId: number; request: AcmeRequestStatus };
  /** An ACME request reached Success or Failed. */
  'acme-request-finished': { boxId: number; request: AcmeRequestStatus };
  /** The box finished booting: cold = process start, warm = reload. */
  booted: { boxId: number; kind: 'cold' | 'warm'; version: string };
  /** A part of the running config changed (features re-read it). */
  'config-changed': { boxId: number; section: 'system' | 'snmp' | 'users' | 'crypto' };
  /** `reload` was accepted; the host restarts the box. */
  'reload-requested': { boxId: number };
  /**
   * A password check failed (device/login.ts), on any transport. `lockedOut`
   * is set when this failure locked the source (or the user name) out, for
   * `lockedOutMs`. The SNMP notifier traps it; the host logs it.
   */
  'login-failed': {
    boxId: number;
    user: string;
    /** The client's address as the socket reports it. */
    address: string;
    /** The audit source ("ssh 127.0.0.1:51234"). */
    source: string;
    transport: LoginTransport;
    lockedOut?: 'source' | 'user';
    lockedOutMs?: number;
  };
  /** `write memory` saved the running config (Gigamon's config-save notification). */
  'config-saved': { boxId: number; user: string; fileName: string };
  /** The box booted a firmware other than the one it ran before (Gigamon's firmware-change notification). */
  'firmware-changed': { boxId: number; previous: string; version: string };
  /** A change made by someone, for the audit log. */
  audit: { boxId: number; actor: Actor; action: string };
}
