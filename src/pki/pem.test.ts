/**
 * pemReader at each strictness, on what each caller relies on:
 * - canonical (verify.ts's fast path): only a leaf in OpenSSL's own text is
 *   read; any other form is left to OpenSSL (undefined), never misread.
 * - armoured (keys.ts, the boot check of a stored key): the block is found
 *   among pasted text, CRLF is fine, a wrong or mismatched label is not.
 * - loose (session.ts, the CSR and the certificate to revoke): the first
 *   block of the device's own text, whatever its labels and line breaks.
 */
import t from 'tap';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { createCsr } from './csr.js';
import { createIssuedCertificate, createRootCa } from './issued.js';
import { pemReader } from './pem.js';

const caKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const validity = { notBeforeMs: Date.now(), validDays: 9 };
const caPem = createRootCa({ key: caKey, commonName: 'Root', organization: 'Lab CA', ...validity });
const ca = { certPem: caPem, key: caKey };
const leafPem = createIssuedCertificate({
  ca,
  key,
  commonName: 'b1',
  organization: 'Lab',
  altNames: [],
  ...validity,
});
const leaf = new X509Certificate(leafPem);
// OpenSSL's own text of the leaf: what a chain the device stored holds.
const leafText = leaf.toString();
const leafDer = leaf.raw;
const keyPem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
const keyDer = key.export({ type: 'pkcs8', format: 'der' });
const rsaPem = rsa.export({ type: 'pkcs1', format: 'pem' }) as string;
const rsaDer = rsa.export({ type: 'pkcs1', format: 'der' });

t.test('canonical: only one certificate block exactly as OpenSSL writes it', (t) => {
  const read = pemReader({ strictness: 'canonical', labels: ['CERTIFICATE'] });
  t.same(read(leafText), leafDer, "OpenSSL's text of the leaf gives its DER");
  // Whatever is refused here, verify.ts hands to X509Certificate (which may read it).
  for (const [name, text] of [
    ['CRLF line ends', leafText.replace(/\n/g, '\r\n')],
    ['text before the block', 'leaf:\n' + leafText],
    ['text after the block', leafText + 'end\n'],
    ['a chain (a second block)', leafText + caPem],
    ['no final line end', leafText.slice(0, -1)],
    ['a blank line after the block', leafText + '\n'],
    ['a space in the body', leafText.replace(/\n(?=[A-Za-z0-9+/])/, '\n ')],
    ['a character outside base64 in the body', leafText.replace(/\n([A-Za-z0-9+/])/, '\n*')],
    ['another label', leafText.replace(/CERTIFICATE/g, 'X509 CERTIFICATE')],
    ['END label that differs', leafText.replace('END CERTIFICATE', 'END CERTIFICATE REQUEST')],
    ['a key block', keyPem],
    ['empty', ''],
  ] as const) {
    t.equal(read(text), undefined, `${name}: not read`);
  }
  t.end();
});

t.test('armoured: the first block of an allowed label among other text, LF or CRLF', (t) => {
  const read = pemReader({ strictness: 'armoured', labels: ['PRIVATE KEY', 'RSA PRIVATE KEY'] });
  t.same(read(keyPem), keyDer, 'PKCS#8 as OpenSSL writes it');
  t.same(read(rsaPem), rsaDer, 'PKCS#1, a second allowed label');
  t.same(read(keyPem.replace(/\n/g, '\r\n')), keyDer, 'CRLF line ends');
  t.same(read('my key:\n' + keyPem + 'end\n'), keyDer, 'text around the block (as pasted)');
  t.same(read(keyPem.replace(/\n-----END/, '-----END')), keyDer, 'the last body line runs into END');
  t.same(read(keyPem + rsaPem), keyDer, 'two blocks: the first');
  for (const [name, text] of [
    ['a label not allowed', keyPem.replace(/PRIVATE KEY/g, 'EC PRIVATE KEY')],
    ['labels that differ', rsaPem.replace('END RSA PRIVATE KEY', 'END PRIVATE KEY')],
    ['a space in the body', keyPem.replace(/\n(?=[A-Za-z0-9+/])/, '\n ')],
    ['the body on the BEGIN line', keyPem.replace('-----\n', '----- ')],
    ['no END line', keyPem.replace(/-----END[^]*/, '')],
    ['empty', ''],
  ] as const) {
    t.equal(read(text), undefined, `${name}: not read`);
  }
  t.end();
});

t.test('loose: the first block of any label, whitespace dropped', (t) => {
  const read = pemReader({ strictness: 'loose' });
  const csrPem = createCsr({ key, commonName: 'box1.lab', altNames: ['box1.lab'] });
  const csrDer = Buffer.from(csrPem.split('\n').slice(1, -2).join(''), 'base64');
  t.same(read(csrPem), csrDer, 'a CSR ("CERTIFICATE REQUEST")');
  t.same(read(leafText + caPem), leafDer, "a chain: the leaf's DER");
  t.same(read(leafText.replace(/\n/g, '\r\n')), leafDer, 'CRLF line ends');
  t.same(read(leafText.replace(/\n(?=[A-Za-z0-9+/])/g, '\n\t  ')), leafDer, 'indented body lines');
  t.same(read('leaf:\n' + leafText), leafDer, 'text before the block');
  t.same(
    read(leafText.replace('END CERTIFICATE', 'END X509 CERTIFICATE')),
    leafDer,
    'END label not compared',
  );
  t.equal(read('no block here'), undefined, 'text without a block: not read');
  t.equal(read(leafText.replace(/-----END[^]*/, '')), undefined, 'no END line: not read');
  t.end();
});

t.test('labels are matched as text, not as patterns', (t) => {
  const read = pemReader({ strictness: 'armoured', labels: ['A.B'] });
  const body = keyPem.split('\n').slice(1, -2).join('\n');
  t.same(read(`-----BEGIN A.B-----\n${body}\n-----END A.B-----\n`), keyDer, 'the label itself');
  t.equal(read(`-----BEGIN AxB-----\n${body}\n-----END AxB-----\n`), undefined, "'.' is not a wildcard");
  t.end();
});
