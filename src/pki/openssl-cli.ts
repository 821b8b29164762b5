/**
 * The three openssl CLI steps that make test and listener certificates
 * (P-256 keys, unencrypted): a self-signed CA, a certificate request, and a
 * request signed by a CA. Used where a certificate must come from a tool
 * other than this project's own builders: Pebble's listener certificate
 * (acme/pebble-launcher.ts) and the chains verify.test.ts checks. Each
 * resolves when openssl exits 0 and rejects with its error otherwise.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A new P-256 key. */
const NEW_P256_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** `openssl req -x509`: a new key (to keyOut) and a self-signed certificate for CN=cn (to certOut), valid `days`. */
export async function opensslSelfSigned(o: {
  cn: string;
  keyOut: string;
  certOut: string;
  days: number;
  /** Extensions, each as `-addext` takes it. */
  addext?: string[];
}): Promise<void> {
  const ext = (o.addext ?? []).flatMap((e) => ['-addext', e]);
  await run('openssl', [
    'req',
    '-x509',
    ...NEW_P256_KEY,
    '-days',
    String(o.days),
    '-subj',
    `/CN=${o.cn}`,
    '-keyout',
    o.keyOut,
    '-out',
    o.certOut,
    ...ext,
  ]);
}

/** `openssl req`: a request for CN=cn (to csrOut), with the key in the file `key`, else a new key written to `keyOut`. */
export async function opensslRequest(
  o: { cn: string; csrOut: string } & ({ key: string } | { keyOut: string }),
): Promise<void> {
  const key = 'key' in o ? ['-new', '-key', o.key] : [...NEW_P256_KEY, '-keyout', o.keyOut];
  await run('openssl', ['req', ...key, '-subj', `/CN=${o.cn}`, '-out', o.csrOut]);
}

/** `openssl x509 -req`: the request `csr` signed by the CA (caCert, caKey) for `days`, extensions from `extfile`, to `out`. */
export async function opensslSign(o: {
  csr: string;
  caCert: string;
  caKey: string;
  days: number;
  extfile: string;
  out: string;
}): Promise<void> {
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    o.csr,
    '-CA',
    o.caCert,
    '-CAkey',
    o.caKey,
    '-CAcreateserial',
    '-days',
    String(o.days),
    '-extfile',
    o.extfile,
    '-out',
    o.out,
  ]);
}
