/**
 * Validation of the values operators type. Each function returns the
 * normalised value or throws DeviceError('bad-input') with a message that
 * names the value and says what is expected. Input is bounded everywhere.
 */
import { isIP } from 'node:net';
import { DeviceError } from './errors.js';
import { HOSTNAME_PATTERN as LABEL, NAME_PATTERN, PORT_MAX, PORT_MIN } from './limits.js';

/** A hostname: 1-63 letters, digits and hyphens, not starting or ending with a hyphen. */
export function validateHostname(name: string): string {
  if (!LABEL.test(name)) {
    throw new DeviceError(
      'bad-input',
      `Invalid hostname "${clip(name)}": use 1-63 letters, digits or hyphens, not starting or ending with a hyphen.`,
    );
  }
  return name;
}

/** A fully-qualified domain name (no wildcard) or an IPv4/IPv6 address. */
export function validateDomain(domain: string): string {
  if (domain.includes(',') || /\s/.test(domain)) {
    throw new DeviceError(
      'bad-input',
      'Only one domain is allowed: an ACME certificate covers a single name (no Subject Alt Names).',
    );
  }
  if (domain.includes('*')) {
    throw new DeviceError(
      'bad-input',
      `Wildcard domain "${clip(domain)}" is not supported: give one host name or IP address.`,
    );
  }
  if (isIP(domain)) return domain;
  const d = domain.endsWith('.') ? domain.slice(0, -1) : domain;
  if (d.length === 0 || d.length > 253 || !d.split('.').every((l) => LABEL.test(l)) || /^[0-9.]+$/.test(d)) {
    throw new DeviceError(
      'bad-input',
      `Invalid domain "${clip(domain)}": give a host name (e.g. box1.lab.test) or an IP address.`,
    );
  }
  return d.toLowerCase();
}

/** A name-server spec: "ip", "ipv4:port" or "[ipv6]:port". Returns the canonical spec. */
export function validateNameServer(spec: string): string {
  const parsed = parseNameServer(spec);
  if (!parsed) {
    throw new DeviceError(
      'bad-input',
      `Invalid name server "${clip(spec)}": give an IPv4 or IPv6 address, optionally with a port (1.2.3.4:53, [::1]:53).`,
    );
  }
  return spec;
}

/** Split a name-server spec into address and port (53 by default); undefined when malformed. */
// EMULATION: a name server may carry a port (labs run their DNS on a high port).
function parseNameServer(spec: string): { address: string; port: number } | undefined {
  let address = spec;
  let port = 53;
  const v6 = /^\[([^\]]+)\]:(\d{1,5})$/.exec(spec);
  const v4 = /^([0-9.]+):(\d{1,5})$/.exec(spec);
  if (v6) {
    address = v6[1]!;
    port = Number(v6[2]);
  } else if (v4) {
    address = v4[1]!;
    port = Number(v4[2]);
  }
  if (!isIP(address) || port < PORT_MIN || port > PORT_MAX) return undefined;
  return { address, port };
}

/** A certificate or user name: 1-64 printable characters without spaces or quotes. */
export function validateName(kind: string, name: string): string {
  // Names key plain objects in the stored document: refuse Object.prototype's own names.
  if (!NAME_PATTERN.test(name) || name in Object.prototype) {
    throw new DeviceError(
      'bad-input',
      `Invalid ${kind} "${clip(name)}": use 1-64 letters, digits, dot, dash, underscore or @.`,
    );
  }
  return name;
}

/** An integer within [min, max]. */
export function validateInt(what: string, value: string | number, min: number, max: number): number {
  const n = typeof value === 'number' ? value : /^\d{1,10}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new DeviceError(
      'bad-input',
      `Invalid ${what} "${clip(String(value))}": give a whole number from ${min} to ${max}.`,
    );
  }
  return n;
}

/** Shorten user input quoted back in a message, so a 1 MiB line never comes back whole. */
export function clip(s: string, max = 40): string {
  const printable = s.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > max ? printable.slice(0, max) + '...' : printable;
}
