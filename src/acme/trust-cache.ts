/**
 * What the ACME agent derives from a box's CA list (the TLS client context
 * for the CA's server, the parsed anchors for the chain check), kept so it
 * is built once per distinct CA list instead of once per operation and box.
 *
 * Measured in bench/fleet-issuance.ts: a client context costs about 0.5 ms
 * (SSL_CTX setup plus parsing every CA) and parsing the anchors about
 * 0.5 ms; with a thousand boxes of one lab holding the same CA list, one
 * shared cache builds them once.
 *
 * Contract: entries are keyed by the exact PEM content of the list, so a box
 * only ever gets what its own list yields (sharing saves work, never mixes
 * trust); entries are immutable; at most `maxEntries` lists are kept (the
 * least recently used goes). Safe to share between the agents of one
 * process (the cluster runner passes one to all its boxes).
 */
import type { X509Certificate } from 'node:crypto';
import type { SecureContext } from 'node:tls';
import { createTrustContext } from './transport.js';
import { parseAnchors } from './verify.js';

interface Entry {
  context?: SecureContext;
  anchors?: X509Certificate[];
}

export class TrustCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries = 64) {}

  /** The TLS client context trusting exactly `caPems` (createTrustContext). */
  context(caPems: string[]): SecureContext {
    const e = this.entry(caPems);
    return (e.context ??= createTrustContext(caPems));
  }

  /** `caPems` parsed as trust anchors (parseAnchors: entries that are not certificates are skipped). */
  anchors(caPems: string[]): X509Certificate[] {
    const e = this.entry(caPems);
    return (e.anchors ??= parseAnchors(caPems));
  }

  /** Number of CA lists held (tests). */
  get size(): number {
    return this.entries.size;
  }

  private entry(caPems: string[]): Entry {
    // A separator no PEM contains, so ["ab","c"] and ["a","bc"] differ.
    const key = caPems.join('\0');
    let e = this.entries.get(key);
    if (e) {
      this.entries.delete(key); // re-insert: Map order is the recency order
    } else {
      e = {};
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(key, e);
    return e;
  }
}
