/**
 * The certificate store (CLI contract, "Certificates"): user certificates
 * and keys given as quoted PEM, the default CA list, the certificate of the
 * HTTPS server. Private keys are never shown: `show` says only whether one is
 * present.
 */
import type { CertificateView } from '../../device/box.js';
import { ACME_CERT_NAME, DEFAULT_CERT_NAME } from '../../device/model.js';
import { keyValues, timeOrNa } from '../format.js';
import { table } from '../../lib/table.js';
import { ANY_MODE, CONFIG_ONLY, type CommandSpec } from '../tree.js';
import { BOX_ID, NAMES } from './common.js';

const ORIGIN: Record<CertificateView['origin'], string> = {
  default: 'default (self-signed by the box)',
  user: 'user',
  acme: 'ACME',
};

/** One certificate as `show crypto certificate` prints it. EMULATION: the layout follows the Onyx family. */
function renderCertificate(c: CertificateView): string[] {
  const f = c.facts;
  return [
    `Certificate with name '${c.name}'`,
    ...keyValues(
      [
        ['Origin', ORIGIN[c.origin]],
        ['Private key', c.hasPrivateKey ? 'present (never shown)' : 'none'],
        ['Serial number', `0x${f.serial}`],
        ['SHA-1 fingerprint', f.sha1Fingerprint],
        ['Subject', f.subject],
        ['Issuer', f.issuer],
        ['Subject alt names', f.subjectAltNames.join(', ') || 'none'],
        ['Validity starts', timeOrNa(f.notBefore)],
        ['Validity expires', timeOrNa(f.notAfter)],
        ['Key type', f.keyType],
        ['Key size', `${f.keySize} bits`],
        ['CA certificate', f.isCa ? 'yes' : 'no'],
        ['In default CA list', c.inCaList ? 'yes' : 'no'],
        ['Used by web https', c.usedByWeb ? 'yes' : 'no'],
      ],
      '  ',
    ),
  ];
}

/** The help of `pem <pem>`, where a certificate or a key is given. */
const PEM_HELP = {
  pem: 'Given as PEM text',
  '<pem>': 'The PEM in double quotes; it may span lines and ends at the closing quote (max 64 KiB)',
};

/** Certificate store, CA list and web certificate commands, with their show commands. */
export const CERTIFICATE_COMMANDS: readonly CommandSpec[] = [
  {
    syntax: 'crypto certificate name <name> public-cert pem <pem:pem>',
    values: { name: NAMES.certificate },
    modes: CONFIG_ONLY,
    role: 'operator',
    help: {
      'public-cert': 'Add a certificate (leaf first, then any chain)',
      ...PEM_HELP,
    },
    run: (ctx, a) => ctx.box().addPublicCertificate(ctx.actor, a.get('name'), a.get('pem')),
  },
  {
    syntax: 'crypto certificate name <name> private-key pem <pem:pem>',
    values: { name: NAMES.certificate },
    modes: CONFIG_ONLY,
    role: 'operator',
    help: {
      'private-key': 'Add the private key of a certificate added before',
      ...PEM_HELP,
    },
    run: (ctx, a) => ctx.box().addPrivateKey(ctx.actor, a.get('name'), a.get('pem')),
  },
  {
    syntax: 'no crypto certificate name <name>',
    values: { name: NAMES.certificate },
    modes: CONFIG_ONLY,
    role: 'operator',
    help: { name: 'Delete a certificate (refused while in use)' },
    run: (ctx, a) => ctx.box().deleteCertificate(ctx.actor, a.get('name')),
  },
  {
    syntax: 'crypto certificate ca-list default-ca-list name <name>',
    values: { name: NAMES.certificate },
    modes: CONFIG_ONLY,
    role: 'operator',
    help: {
      'ca-list': 'Certificates the box trusts as CAs',
      'default-ca-list': 'The CA list (used for the ACME server TLS and chain)',
      name: 'Trust this certificate as a CA',
    },
    run: (ctx, a) => ctx.box().addCaListEntry(ctx.actor, a.get('name')),
    section: 'Certificates',
    render: (box) =>
      box
        .certificates()
        .filter((c) => c.inCaList)
        .map((c) => `crypto certificate ca-list default-ca-list name ${c.name}`),
  },
  {
    syntax: 'no crypto certificate ca-list default-ca-list name <name>',
    values: { name: NAMES.certificate },
    modes: CONFIG_ONLY,
    role: 'operator',
    help: {
      'ca-list': 'Certificates the box trusts as CAs',
      'default-ca-list': 'The CA list',
      name: 'Stop trusting this certificate',
    },
    run: (ctx, a) => ctx.box().removeCaListEntry(ctx.actor, a.get('name')),
  },
  {
    syntax: 'web https certificate name <name>',
    values: { name: NAMES.certificate },
    modes: CONFIG_ONLY,
    role: 'operator',
    help: {
      certificate: 'The certificate the HTTPS server presents',
      name: 'A certificate with its private key',
    },
    run: (ctx, a) => ctx.box().setWebCertificate(ctx.actor, a.get('name')),
    section: 'Web',
    // The ACME certificate is mapped by the ACME client, not by this command, so it is not a config line.
    render: (box) =>
      box.webCertificateName === DEFAULT_CERT_NAME || box.webCertificateName === ACME_CERT_NAME
        ? []
        : [`web https certificate name ${box.webCertificateName}`],
  },
  {
    syntax: 'web https certificate default-cert',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: {
      certificate: 'The certificate the HTTPS server presents',
      'default-cert': "The box's self-signed default certificate",
    },
    run: (ctx) => ctx.box().setWebCertificate(ctx.actor, DEFAULT_CERT_NAME),
  },
  {
    syntax: `show crypto certificate [name <name>] [${BOX_ID}]`,
    values: { name: NAMES.certificate },
    modes: ANY_MODE,
    role: 'monitor',
    help: { certificate: 'Certificates: subject, issuer, serial, validity, key, fingerprint' },
    run: (ctx, a) => {
      const box = ctx.target(a);
      const name = a.opt('name');
      const list = name === undefined ? box.certificates() : [box.certificate(name)];
      return list.flatMap((c, i) => [...(i > 0 ? [''] : []), ...renderCertificate(c)]);
    },
  },
  {
    // EMULATION: the layout of the CA list and of `show web` is ours.
    syntax: `show crypto certificate ca-list [${BOX_ID}]`,
    modes: ANY_MODE,
    role: 'monitor',
    help: { 'ca-list': 'The certificates in the default CA list' },
    run: (ctx, a) => {
      const cas = ctx
        .target(a)
        .certificates()
        .filter((c) => c.inCaList);
      if (cas.length === 0)
        return 'The default CA list is empty; add one with "crypto certificate ca-list default-ca-list name <name>".';
      return [
        'Default CA list:',
        ...table(
          ['Name', 'Subject', 'Expires', 'SHA-1 fingerprint'],
          cas.map((c) => [c.name, c.facts.subject, timeOrNa(c.facts.notAfter), c.facts.sha1Fingerprint]),
        ).map((l) => '  ' + l),
      ];
    },
  },
  {
    syntax: `show web [${BOX_ID}]`,
    modes: ANY_MODE,
    role: 'monitor',
    help: { web: 'The HTTPS server and its certificate' },
    run: (ctx, a) => {
      const box = ctx.target(a);
      const c = box.certificate(box.webCertificateName);
      return keyValues([
        ['Web HTTPS certificate', c.name],
        ['Certificate origin', ORIGIN[c.origin]],
        [
          'Managed by ACME',
          c.name === ACME_CERT_NAME ? 'yes (use "crypto certificate acme clear" to change it)' : 'no',
        ],
        ['Subject', c.facts.subject],
        ['Issuer', c.facts.issuer],
        ['Serial number', `0x${c.facts.serial}`],
        ['Expires', timeOrNa(c.facts.notAfter)],
        ['SHA-1 fingerprint', c.facts.sha1Fingerprint],
        ['Management address', box.address],
      ]);
    },
  },
];
