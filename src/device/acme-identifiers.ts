/**
 * What an ACME certificate of a box names, defined once: the identifier
 * types of an order (RFC 8555 §9.7.7 "dns", RFC 8738 "ip"), which challenge
 * may validate which type, how many identifiers one order carries, and the
 * order's identifier list built from the box's domain and, when the lab asks
 * for it, the box's own address. acme/ (order, CSR, verification) and lab/
 * (topology, hints) import these. Pure; no I/O.
 */
import { isIP } from 'node:net';

/** The identifier types the box orders (RFC 8555 §9.7.7, RFC 8738 §3). */
export type AcmeIdentifierType = 'dns' | 'ip';

/** One identifier of an order, as it goes on the wire (newOrder's `identifiers`). */
export interface AcmeIdentifier {
  type: AcmeIdentifierType;
  value: string;
}

/** The challenge types the box can answer (it runs no DNS zone, so never dns-01). */
export type ChallengeType = 'http-01' | 'tls-alpn-01';

/**
 * Which challenge types may validate an identifier of each type: an IP
 * identifier never with dns-01 (RFC 8738 §7: there is no DNS name to put the
 * TXT record under), a DNS name with any. A CA that offers an IP identifier
 * only dns-01 is refused by name rather than answered.
 */
export const CHALLENGES_BY_IDENTIFIER: Readonly<Record<AcmeIdentifierType, readonly string[]>> = {
  dns: ['http-01', 'tls-alpn-01', 'dns-01'],
  ip: ['http-01', 'tls-alpn-01'],
};

/**
 * Identifiers in one order, at most: the domain, plus the box's address when
 * the lab orders it too. The real device orders one domain only (seed: "ACME
 * certificate can be issued only for single domain").
 */
export const MAX_ACME_IDENTIFIERS = 2;

/** The identifier of a domain as the box's ACME configuration gives it: an IP address, else a DNS name. */
function identifierOf(value: string): AcmeIdentifier {
  return { type: isIP(value) ? 'ip' : 'dns', value };
}

/**
 * The identifiers of a box's order, the domain first (it is the CSR's CN
 * when a DNS name): the domain alone, or the domain and `address` (an IP
 * identifier, RFC 8738) when given and not the domain itself. Throws Error
 * when `address` is not an IP address; callers validate first.
 */
export function orderIdentifiers(domain: string, address?: string | null): AcmeIdentifier[] {
  const first = identifierOf(domain);
  if (address === undefined || address === null || address === domain) return [first];
  if (!isIP(address)) throw new Error(`not an IP address: ${address}`);
  return [first, { type: 'ip', value: address }];
}

/** The identifiers as one line for messages: "gigavue-1.lab.test and 127.0.0.101". */
export function identifiersText(ids: readonly AcmeIdentifier[]): string {
  return ids.map((i) => i.value).join(' and ');
}
