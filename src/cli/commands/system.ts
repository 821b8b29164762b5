/**
 * System commands (CLI contract, "System"): hostname, name servers, domain
 * list, crypto mode, show version, show chassis, write memory, reload.
 */
import type { Box } from '../../device/box.js';
import { ALGORITHMS_BY_MODE } from '../../device/key-algorithms.js';
import { CRYPTO_MODES } from '../../device/model.js';
import { formatUptime, keyValues, table } from '../format.js';
import { ANY_MODE, CONFIG_ONLY, PRIVILEGED, type CommandSpec } from '../tree.js';
import { BOX_ID } from './common.js';

/** The hardware type shown by `show chassis`: the model without its family prefix. */
function hwType(model: string): string {
  return model.replace(/^GigaVUE-/i, '');
}

/**
 * EMULATION: product codes are invented per model (the public documentation
 * does not list them); unknown models show n/a.
 */
const PRODUCT_CODES: Record<string, string> = {
  'GigaVUE-HC1': '132-00BQ',
  'GigaVUE-HC2': '132-00AN',
  'GigaVUE-HC3': '132-00BD',
  'GigaVUE-TA25': '132-00CB',
  'GigaVUE-TA200': '132-00AZ',
};

/** `show version`. EMULATION: the layout follows the Onyx family; arch and "Built by" are fixed texts. */
function renderVersion(box: Box): string[] {
  const img = box.image;
  const id = box.identity;
  return keyValues([
    ['Product name', 'GigaVUE-OS'],
    ['Product release', img.version],
    ['Build ID', img.buildId],
    ['Build date', img.buildDate],
    ['Target arch', 'x86_64'],
    ['Target hw', hwType(id.model).toLowerCase()],
    ['Built by', 'gvos-sim'],
    ['Version summary', `GigaVUE-OS ${img.version} ${img.buildId} ${img.buildDate} x86_64`],
    ['', ''],
    ['Product model', id.model],
    ['Host ID', id.hostId],
    ['System serial num', id.serial],
    ['Crypto mode', box.activeCryptoMode],
    ['', ''],
    ['Uptime', formatUptime(box.uptimeMs())],
  ]);
}

/**
 * `show chassis`: one row per box of the cluster (or the one box asked for); `*` marks the session's box.
 * EMULATION: a table with the contract's columns; HW Type is the model without "GigaVUE-".
 */
function renderChassis(boxes: readonly Box[], localBoxId: number): string[] {
  return table(
    ['Box ID', 'Hostname', 'HW Type', 'Product Code', 'Serial Num', 'SW Rev', 'Oper Status'],
    boxes.map((b) => [
      `${b.boxId}${b.boxId === localBoxId ? '*' : ''}`,
      b.hostname,
      hwType(b.identity.model),
      PRODUCT_CODES[b.identity.model] ?? 'n/a',
      b.identity.serial,
      b.image.version,
      // EMULATION: every box in the cluster is up; a box being reloaded is briefly absent.
      'up',
    ]),
  );
}

/** System configuration and the system show commands. */
export const SYSTEM_COMMANDS: readonly CommandSpec[] = [
  {
    syntax: 'hostname <hostname>',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: { hostname: 'Set the name of this box', '<hostname>': '1-63 letters, digits or hyphens' },
    run: (ctx, a) => ctx.box().setHostname(ctx.actor, a.get('hostname')),
    section: 'System',
    render: (box) => [`hostname ${box.config.hostname}`],
  },
  {
    syntax: 'ip name-server <server>',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: {
      'name-server': 'Add a DNS server the box uses',
      '<server>': 'IPv4 or IPv6 address, optionally with :port (1.2.3.4:53, [::1]:53)',
    },
    run: (ctx, a) => ctx.box().addNameServer(ctx.actor, a.get('server')),
    section: 'System',
    render: (box) => box.config.nameServers.map((s) => `ip name-server ${s}`),
  },
  {
    syntax: 'no ip name-server <server>',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: { 'name-server': 'Remove a DNS server', '<server>': 'The name server as configured' },
    run: (ctx, a) => ctx.box().removeNameServer(ctx.actor, a.get('server')),
  },
  {
    syntax: 'ip domain-list <domain>',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: {
      'domain-list': 'Add a domain to the DNS search list',
      '<domain>': 'A domain name, e.g. lab.test',
    },
    run: (ctx, a) => ctx.box().addDomainListEntry(ctx.actor, a.get('domain')),
    section: 'System',
    render: (box) => box.config.domainList.map((d) => `ip domain-list ${d}`),
  },
  {
    syntax: 'no ip domain-list <domain>',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: {
      'domain-list': 'Remove a domain from the DNS search list',
      '<domain>': 'The domain as configured',
    },
    run: (ctx, a) => ctx.box().removeDomainListEntry(ctx.actor, a.get('domain')),
  },
  {
    syntax: `crypto mode {${CRYPTO_MODES.join('|')}}`,
    modes: CONFIG_ONLY,
    role: 'admin',
    help: {
      mode: 'Set the crypto mode (takes effect after reload)',
      classic: `RSA keys (${ALGORITHMS_BY_MODE.classic.join(', ')})`,
      'secure-crypto': `EC keys (${ALGORITHMS_BY_MODE['secure-crypto'].join(', ')})`,
      fips: 'FIPS mode: EC keys, no MD5 or DES',
    },
    run: (ctx, a) => {
      const mode = a.which(CRYPTO_MODES)!;
      const box = ctx.box();
      box.setCryptoMode(ctx.actor, mode);
      if (mode === box.activeCryptoMode) return;
      // EMULATION: the real device is silent; we say when the change takes effect.
      return `Crypto mode ${mode} takes effect after "write memory" and "reload" (the box runs in ${box.activeCryptoMode} mode until then).`;
    },
    section: 'System',
    render: (box) => [`crypto mode ${box.config.cryptoMode}`],
  },
  {
    // EMULATION: every show command works in every mode (the contract: show version in standard and
    // enable, the ACME status in any mode), except show running-config (enable and config).
    syntax: 'show version',
    modes: ANY_MODE,
    role: 'monitor',
    help: { version: 'Firmware version, model, serial number and uptime' },
    run: (ctx) => renderVersion(ctx.box()),
  },
  {
    syntax: `show chassis [${BOX_ID}]`,
    modes: ANY_MODE,
    role: 'monitor',
    help: { chassis: 'The boxes of the cluster: box ID, hostname, model, serial number, version' },
    run: (ctx, a) => {
      const boxes = a.opt('box-id') === undefined ? ctx.cluster.list() : [ctx.target(a)];
      return renderChassis(boxes, ctx.boxId);
    },
  },
  {
    // EMULATION: `write memory` is silent on success, as in the Onyx family.
    syntax: 'write memory',
    modes: PRIVILEGED,
    role: 'operator',
    help: {
      write: 'Save the configuration',
      memory: 'Save the running configuration; a reload comes back with it',
    },
    run: async (ctx) => {
      await ctx.box().writeMemory(ctx.actor);
    },
  },
  {
    // EMULATION: no confirmation question; unsaved changes are named in a warning line.
    syntax: `reload [${BOX_ID}]`,
    modes: PRIVILEGED,
    role: 'operator',
    help: { reload: 'Restart a box with its saved configuration' },
    run: (ctx, a) => {
      const box = ctx.target(a);
      if (box.hasUnsavedChanges) {
        ctx.say(
          `Warning: box-id ${box.boxId} has unsaved changes; they are lost ("write memory" saves them).`,
        );
      }
      // The line goes out before the reload starts: the host may close this session at once.
      ctx.say(`Rebooting box-id ${box.boxId} (${box.hostname})...`);
      box.requestReload(ctx.actor);
    },
  },
];
