/**
 * The ACME challenges a box is answering right now. The ACME agent adds and
 * removes them; the web feature serves them:
 * - http-01 (RFC 8555 §8.3): key authorizations by token, served on the
 *   box's http port at /.well-known/acme-challenge/<token>;
 * - tls-alpn-01 (RFC 8737): a self-signed certificate per identifier,
 *   presented on the box's https port to a client that offers only the ALPN
 *   protocol "acme-tls/1".
 * It lives in device/ so that neither feature imports the other. No I/O.
 */
import { isIP } from 'node:net';

/** A certificate and its key, PEM; the key is secret (never logged). */
export interface AlpnCredentials {
  certPem: string;
  keyPem: string;
}

/** The ALPN protocol of tls-alpn-01 (RFC 8737 §6.2). */
export const ACME_TLS_ALPN_PROTOCOL = 'acme-tls/1';

export class ChallengeTokens {
  private readonly tokens = new Map<string, string>();
  private readonly alpn = new Map<string, AlpnCredentials>();

  /**
   * Which responders the box's web server runs. The web server sets
   * `'tls-alpn-01'` to true once its https port routes acme-tls/1
   * handshakes to {@link getAlpnCertificate}; the agent only uses a
   * challenge type that is on. http-01 is on by default (the http port
   * always serves tokens); a server without an http port turns it off.
   */
  readonly responders: { 'http-01': boolean; 'tls-alpn-01': boolean } = {
    'http-01': true,
    'tls-alpn-01': false,
  };

  /**
   * When true, the box's ACME client validates every identifier again: an
   * authorization the CA reuses (RFC 8555 §7.1.4) is deactivated and the
   * order placed again, so that the CA asks for a challenge (see
   * ChallengeResponder.revalidate). Only the lab sets it, with its
   * challenge-wrong fault, which otherwise could not fail an order whose
   * authorization the CA reused. False on a box as the operator runs it.
   */
  revalidate = false;

  /** Serve `keyAuthorization` at /.well-known/acme-challenge/<token> until removed. */
  set(token: string, keyAuthorization: string): void {
    this.tokens.set(token, keyAuthorization);
  }

  get(token: string): string | undefined {
    return this.tokens.get(token);
  }

  delete(token: string): void {
    this.tokens.delete(token);
  }

  get size(): number {
    return this.tokens.size;
  }

  /**
   * Present `cred` to acme-tls/1 handshakes for `identifier` (a DNS name or
   * an IP address) until removed. For an IP the validation server sends the
   * reverse-DNS name as SNI (RFC 8738 §6), so both names find it.
   */
  setAlpnCertificate(identifier: string, cred: AlpnCredentials): void {
    for (const name of alpnNames(identifier)) this.alpn.set(name, cred);
  }

  /**
   * The tls-alpn-01 certificate for the SNI `servername` of an acme-tls/1
   * handshake (case-insensitive; a reverse-DNS name for IPs). Without SNI,
   * the only certificate when exactly one is pending.
   */
  getAlpnCertificate(servername: string | undefined): AlpnCredentials | undefined {
    if (!servername) {
      const all = new Set(this.alpn.values());
      return all.size === 1 ? [...all][0] : undefined;
    }
    return this.alpn.get(servername.toLowerCase().replace(/\.$/, ''));
  }

  deleteAlpnCertificate(identifier: string): void {
    for (const name of alpnNames(identifier)) this.alpn.delete(name);
  }

  /** Number of pending tls-alpn-01 identifiers. */
  get alpnSize(): number {
    return new Set(this.alpn.values()).size;
  }
}

/** The names under which an identifier's ALPN certificate is looked up. */
function alpnNames(identifier: string): string[] {
  const id = identifier.toLowerCase();
  const reverse = reverseDnsName(id);
  return reverse ? [id, reverse] : [id];
}

/** 127.0.0.1 -> 1.0.0.127.in-addr.arpa; IPv6 -> nibbles.ip6.arpa (RFC 8738 §6); undefined for names. */
export function reverseDnsName(ip: string): string | undefined {
  const v = isIP(ip);
  if (v === 4) return ip.split('.').reverse().join('.') + '.in-addr.arpa';
  if (v !== 6) return undefined;
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  const nibbles = groups.map((g) => g.padStart(4, '0')).join('');
  return nibbles.split('').reverse().join('.') + '.ip6.arpa';
}

/**
 * The ALPN protocols offered in a TLS ClientHello (the first bytes a client
 * sends), for a server that must route acme-tls/1 handshakes before TLS
 * starts. Returns [] when the hello has no ALPN extension, or undefined when
 * `data` is not (yet) a whole ClientHello record: read more, or treat the
 * connection as an ordinary one. Pure; bounded by the record length.
 */
export function offeredAlpnProtocols(data: Buffer): string[] | undefined {
  // TLS record: type 22 (handshake), version, length (RFC 8446 §5.1).
  if (data.length < 5 || data[0] !== 22) return undefined;
  const recordLen = data.readUInt16BE(3);
  if (data.length < 5 + recordLen) return undefined;
  const hs = data.subarray(5, 5 + recordLen);
  // Handshake: type 1 (ClientHello), 3-byte length.
  if (hs.length < 4 || hs[0] !== 1) return undefined;
  let p = 4 + 2 + 32; // legacy_version, random
  const need = (n: number) => p + n <= hs.length;
  if (!need(1)) return undefined;
  p += 1 + hs[p]!; // session id
  if (!need(2)) return undefined;
  p += 2 + hs.readUInt16BE(p); // cipher suites
  if (!need(1)) return undefined;
  p += 1 + hs[p]!; // compression methods
  if (!need(2)) return [];
  const extEnd = Math.min(hs.length, p + 2 + hs.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = hs.readUInt16BE(p);
    const len = hs.readUInt16BE(p + 2);
    p += 4;
    if (p + len > extEnd) return undefined;
    if (type === 16) {
      // application_layer_protocol_negotiation (RFC 7301 §3.1)
      const out: string[] = [];
      let q = p + 2;
      const end = p + len;
      while (q < end) {
        const n = hs[q]!;
        if (q + 1 + n > end) return undefined;
        out.push(hs.subarray(q + 1, q + 1 + n).toString('latin1'));
        q += 1 + n;
      }
      return out;
    }
    p += len;
  }
  return [];
}
