/**
 * The control plane's HTTPS certificate: a server certificate for the lab's
 * name (`<lab>.<domain>`, e.g. lab.lab.test), `localhost`, 127.0.0.1 and
 * ::1, signed by the lab CA's issuing root when the CA gives out its key
 * (Pebble), so the one CA root file `lab up` prints verifies the boxes and
 * the dashboard (`curl --cacert ca-root.pem https://lab.lab.test:<port>/`
 * with --resolve, or https://127.0.0.1:<port>/ directly). A CA that keeps
 * its key (step-ca, an external CA) cannot sign it: then the lab makes a
 * root of its own for this run (in memory only), and `lab up` appends that
 * root to the same CA root file.
 */
import { createIssuedCertificate, createRootCa, type SigningCa } from '../../pki/issued.js';
import { generatePrivateKey } from '../../pki/keys.js';

/** What the HTTPS listener serves, and the root a client needs when it is not the CA's. */
export interface PlaneCredentials {
  certPem: string;
  /** Secret: handed to the TLS server only, never written or logged. */
  keyPem: string;
  /** The DNS name the certificate is for. */
  name: string;
  /** A root the lab made because the CA gives out no key: append it to the CA root file. */
  ownRootPem?: string;
}

/** The DNS name of the lab's control plane: `<lab>.<domain>`, lower case. */
export function planeName(lab: string, domain: string): string {
  return `${lab}.${domain}`.toLowerCase();
}

/**
 * Make the credentials (see the file comment). `signingRoot` is the CA's
 * root with its key, when it has one to give; `nowMs` stamps notBefore.
 */
export async function planeCredentials(
  name: string,
  signingRoot: (() => Promise<SigningCa>) | undefined,
  nowMs: number,
): Promise<PlaneCredentials> {
  let ca: SigningCa;
  let ownRootPem: string | undefined;
  if (signingRoot) ca = await signingRoot();
  else {
    // generatePrivateKey, not generateKeyPairSync: Node 20 can deadlock when a GC frees the sync
    // job of a key while that key's JWK is being read (helper fast, session 9; pki/keys.test hung).
    const { key } = await generatePrivateKey('prime256v1');
    ownRootPem = createRootCa({
      key,
      commonName: `gvos-sim lab root for ${name}`,
      organization: 'gvos-sim lab',
      notBeforeMs: nowMs,
      validDays: 30,
    });
    ca = { certPem: ownRootPem, key };
  }
  const { key, privateKeyPem } = await generatePrivateKey('prime256v1');
  const certPem = createIssuedCertificate({
    ca,
    key,
    commonName: name,
    organization: 'gvos-sim lab',
    altNames: [name, 'localhost', '127.0.0.1', '::1'],
    notBeforeMs: nowMs,
    // The lab's own control plane: 30 days outlives any lab run, and a restart makes a new one.
    validDays: 30,
  });
  return {
    certPem,
    keyPem: privateKeyPem,
    name,
    ...(ownRootPem ? { ownRootPem } : {}),
  };
}
