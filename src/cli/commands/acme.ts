/**
 * ACME (CLI contract, "ACME" and "Status output"; seeds/acme-certificates-page.txt).
 * Issue, renew and revoke start the work on the target box and answer at
 * once; the result shows in `show crypto acme client info`. The box checks
 * the role (admin) and every prerequisite, each with its own message.
 */
import type { Box } from '../../device/box.js';
import { DeviceError } from '../../device/errors.js';
import { CLI_ALGORITHM_WORDS as ALGORITHM_WORDS } from '../../device/key-algorithms.js';
import { MAX_RENEW_DAYS } from '../../device/limits.js';
import { formatLocalTime, timeOrNa } from '../format.js';
import { ANY_MODE, CONFIG_ONLY, type Args, type CommandSpec } from '../tree.js';
import { BOX_ID } from './common.js';

/** Spellings accepted by `key-algorithm` (device/key-algorithms.ts); the ec- forms are the manager's (CLI contract). */
const ALGORITHMS = `{${Object.keys(ALGORITHM_WORDS).join('|')}}`;

const STATUS_HINT = (boxId: number) => `Check status using "show crypto acme client info box-id ${boxId}".`;

/** Width of the field labels of the status output (the contract's example). */
const LABEL_WIDTH = 23;
const field = (label: string, value: string) => `  ${label.padEnd(LABEL_WIDTH)}: ${value}`;

/**
 * `show crypto acme client info`: exactly the contract's layout, which
 * managers parse (including the device's own spelling "Succesful").
 */
export function renderAcmeInfo(box: Box): string[] {
  const s = box.acmeState();
  const lines = [
    `Box Id ${box.boxId}:`,
    '========== ACME Issued Certificate Info ============================',
  ];
  const i = s.issued;
  if (i) {
    lines.push(
      'https:',
      field('Domain', i.domain),
      field('Cert Name', i.certName),
      field('Acme-Server', i.directoryUrl),
      field('First-Issued', formatLocalTime(i.firstIssuedMs)),
      field('Next Renewal', timeOrNa(i.nextRenewalMs)),
      field('Expires', formatLocalTime(i.expiresMs)),
      field('Renewal Days', i.renewDays === null ? 'System Computed' : String(i.renewDays)),
      field('Last Succesful Renewal', timeOrNa(i.lastSuccessfulRenewalMs)),
      field('Last Failed Renewal', timeOrNa(i.lastFailedRenewalMs)),
    );
  } else {
    // EMULATION: the contract's sentence takes the place of the https: block, under the same header.
    lines.push('No ACME issued certificate.');
  }
  // EMULATION: "Since Bootup" shows the last request the box kept (a request cut by a restart
  // shows as "Failed: interrupted by restart"); a failure without a reason says "unknown reason".
  const r = s.lastRequest;
  const status = !r ? 'n/a' : r.status === 'Failed' ? `Failed: ${r.reason ?? 'unknown reason'}` : r.status;
  lines.push(
    '',
    'Last Request Status Since Bootup',
    '================================',
    field('Domain', r?.domain ?? 'n/a'),
    field('Acme-Server', r?.directoryUrl ?? 'n/a'),
    field('Request-Status', status),
    field('Type of Request', r?.type ?? 'n/a'),
  );
  return lines;
}

const ISSUE_HELP = {
  issue: 'Get a new certificate for the web server from an ACME CA',
  'acme-server': 'The ACME directory URL',
  '<url>': 'https:// URL of the ACME directory, e.g. https://ca.lab.test:14000/dir',
  'key-algorithm': 'Key of the certificate (default: rsa-2048 in classic mode, prime256v1 otherwise)',
  'rsa-2048': 'RSA 2048 bits (classic mode)',
  'rsa-4096': 'RSA 4096 bits (classic mode)',
  prime256v1: 'EC P-256 (secure-crypto and FIPS mode)',
  secp384r1: 'EC P-384 (secure-crypto and FIPS mode)',
  'ec-prime256v1': 'Same as prime256v1',
  'ec-secp384r1': 'Same as secp384r1',
  'renew-days': 'Renew this many days before expiry (cannot be changed after issue)',
  '<days>': `Days (1-${MAX_RENEW_DAYS}; default: when a third of the lifetime is left)`,
  csr: 'Not supported: the box generates its own key',
  '<csr>': 'Not supported',
} as const;

async function issue(ctx: Parameters<CommandSpec['run']>[0], a: Args): Promise<string> {
  const box = ctx.target(a);
  const word = a.which(Object.keys(ALGORITHM_WORDS));
  await box.acmeIssue(ctx.actor, {
    domain: a.get('domain'),
    directoryUrl: a.get('url'),
    ...(word ? { keyAlgorithm: ALGORITHM_WORDS[word]! } : {}),
    ...(a.opt('days') !== undefined ? { renewDays: a.optInt('days')! } : {}),
  });
  return `Issuance in progress. ${STATUS_HINT(box.boxId)}`;
}

const ISSUE_PREFIX = `crypto certificate acme issue [${BOX_ID}] domain <domain> acme-server <url>`;

/** ACME commands: issue (and the refused csr form), renew, revoke, clear, and the status. */
export const ACME_COMMANDS: readonly CommandSpec[] = [
  {
    syntax: `${ISSUE_PREFIX} [key-algorithm ${ALGORITHMS}] [renew-days <days:int:1-${MAX_RENEW_DAYS}>]`,
    modes: CONFIG_ONLY,
    role: 'admin',
    help: ISSUE_HELP,
    run: issue,
  },
  {
    // EMULATION: the two options are also accepted in the other order.
    syntax: `${ISSUE_PREFIX} renew-days <days:int:1-${MAX_RENEW_DAYS}> key-algorithm ${ALGORITHMS}`,
    modes: CONFIG_ONLY,
    role: 'admin',
    help: ISSUE_HELP,
    run: issue,
  },
  {
    // Seed limitation: "It is not possible to issue a new certificate based on CSR."
    // EMULATION: `csr` is a hidden keyword (never listed) so that the refusal names the limitation.
    syntax: `crypto certificate acme issue [${BOX_ID}] csr [<csr:rest>]`,
    modes: CONFIG_ONLY,
    role: 'admin',
    help: ISSUE_HELP,
    hidden: ['csr'],
    run: () => {
      throw new DeviceError(
        'unsupported',
        'Issuing from a CSR is not supported; the box generates its own key.',
      );
    },
  },
  {
    syntax: `crypto certificate acme renew [${BOX_ID}] domain <domain>`,
    modes: CONFIG_ONLY,
    role: 'admin',
    help: { renew: 'Renew the ACME certificate now (same domain as issued)' },
    run: async (ctx, a) => {
      const box = ctx.target(a);
      await box.acmeRenew(ctx.actor, a.get('domain'));
      return `Renewal in progress. ${STATUS_HINT(box.boxId)}`;
    },
  },
  {
    // EMULATION: `key-compromise` asks for revocation reason keyCompromise (RFC 5280); the default is superseded.
    syntax: `crypto certificate acme revoke [${BOX_ID}] domain <domain> [key-compromise]`,
    modes: CONFIG_ONLY,
    role: 'admin',
    help: {
      revoke: 'Re-issue, then revoke the old ACME certificate',
      'key-compromise': 'Give the reason keyCompromise (default: superseded)',
    },
    run: async (ctx, a) => {
      const box = ctx.target(a);
      await box.acmeRevoke(
        ctx.actor,
        a.get('domain'),
        a.has('key-compromise') ? 'key-compromise' : 'superseded',
      );
      return `Revocation in progress. ${STATUS_HINT(box.boxId)}`;
    },
  },
  {
    // EMULATION: the text of the one-line confirmation is ours.
    syntax: `crypto certificate acme clear [${BOX_ID}]`,
    modes: CONFIG_ONLY,
    role: 'admin',
    help: { clear: 'Remove the ACME certificate, go back to the default certificate, stop auto-renewal' },
    run: async (ctx, a) => {
      const box = ctx.target(a);
      await box.acmeClear(ctx.actor);
      return `ACME certificate cleared on box-id ${box.boxId}; the web server uses the default certificate.`;
    },
  },
  {
    syntax: `show crypto acme client info [${BOX_ID}]`,
    modes: ANY_MODE,
    role: 'monitor',
    help: {
      acme: 'The ACME client',
      client: 'The ACME client of a box',
      info: 'The ACME certificate and the last request',
    },
    run: (ctx, a) => renderAcmeInfo(ctx.target(a)),
  },
];
