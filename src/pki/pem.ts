/**
 * Reading the DER out of PEM armour (RFC 7468), at the strictness each
 * caller needs. Writing PEM is `pem` in der.ts.
 */
import { Buffer } from 'node:buffer';

/**
 * How strictly a PEM block is read.
 * - `canonical`: the whole text is exactly one block as OpenSSL writes it
 *   (X509Certificate.toString, KeyObject.export): BEGIN line, base64 lines
 *   ending in LF, END line repeating the label, one final LF, nothing
 *   before or after. For a fast path that only accepts what it can check
 *   byte for byte and leaves anything else to OpenSSL.
 * - `armoured`: the first block found anywhere in the text (text around it
 *   is ignored, as OpenSSL ignores it); the END line repeats the BEGIN
 *   label; the body holds only base64 characters and line ends (LF or
 *   CRLF; its lines may end right before the END line). For a form check
 *   of pasted or stored text.
 * - `loose`: the first BEGIN ... END pair anywhere, whose labels need not
 *   agree, with any body free of '-' and all whitespace in it dropped,
 *   then decoded as Node decodes base64 (characters outside the alphabet
 *   are skipped). For text the device made itself (its CSR, a chain it
 *   stored), where a form check would add nothing and OpenSSL or the CA
 *   judges the DER.
 */
export type PemStrictness = 'canonical' | 'armoured' | 'loose';

/** A reader made by {@link pemReader}: the DER of the block, or undefined when the text has no block in that form. */
export type PemReader = (text: string) => Buffer | undefined;

/**
 * A reader of the first PEM block of a text, at `strictness`, accepting
 * only `labels` (e.g. 'CERTIFICATE'; omitted: any label). The pattern is
 * built once, here: make readers at module load, not per call.
 */
export function pemReader(o: { strictness: PemStrictness; labels?: readonly string[] }): PemReader {
  const label = o.labels ? `(${o.labels.map(escapeRegExp).join('|')})` : '([^-]+)';
  let re: RegExp;
  switch (o.strictness) {
    case 'canonical':
      re = new RegExp(`^-----BEGIN ${label}-----\\n([A-Za-z0-9+/=\\n]+)\\n-----END \\1-----\\n$`);
      break;
    case 'armoured':
      re = new RegExp(`-----BEGIN ${label}-----\\r?\\n([A-Za-z0-9+/=\\r\\n]+)-----END \\1-----`);
      break;
    case 'loose':
      // The END label is not compared: the text is the device's own.
      re = new RegExp(`-----BEGIN ${label}-----([^-]*)-----END [^-]+-----`);
      break;
  }
  return (text) => {
    const m = re.exec(text);
    // Group 1 is the label, group 2 the body.
    return m ? Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64') : undefined;
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
