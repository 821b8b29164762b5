/**
 * System commands (CLI contract, "System"): hostname, name servers, domain
 * list, crypto mode, show version, show chassis, show card, show clock,
 * write memory, reload.
 */
import { loadavg } from 'node:os';
import type { Box } from '../../device/box.js';
import type { Member } from '../../device/cluster.js';
import { hostIdHex, memoryUsage, modelHardware } from '../../device/hardware.js';
import { ALGORITHMS_BY_MODE } from '../../device/key-algorithms.js';
import { CRYPTO_MODES } from '../../device/model.js';
import { formatLocalTime, formatUptime, keyValues } from '../format.js';
import { table } from '../../lib/table.js';
import {
  ANY_MODE,
  CONFIG_ONLY,
  PRIVILEGED,
  type Args,
  type CommandContext,
  type CommandSpec,
} from '../tree.js';
import { BOX_ID, showOfBox } from './common.js';

/**
 * `show version`, in the real box's order (real-device.md section 3): the
 * release block, the boot firmware block, the model block, the run-time
 * block; what only the simulator knows (serial, crypto mode) comes last.
 * EMULATION: "Built by" is `gvos-sim`; U-Boot, CPLD and TS versions are
 * `n/a`; memory comes from device/hardware.ts (the SNMP agent answers the
 * same figures); swap is 0; the load averages are the host's.
 */
function renderVersion(box: Box): string[] {
  const img = box.image;
  const id = box.identity;
  const hw = modelHardware(id.model);
  const mem = memoryUsage(hw);
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
  return keyValues([
    ['Product name', 'GigaVUE-OS'],
    ['Product release', img.version],
    ['Build ID', img.buildId],
    ['Build date', img.buildDate],
    ['Target arch', hw.arch],
    ['Target hw', hw.targetHw],
    ['Built by', 'gvos-sim'],
    [
      'Version summary',
      `GigaVUE-OS ${img.version} ${img.buildId} ${img.buildDate} ${hw.arch} ${hw.targetHw} gvos-sim`,
    ],
    ['', ''],
    ['U-Boot version', 'n/a'],
    ['CPLD version', 'n/a'],
    ['TS version', 'n/a'],
    ['', ''],
    ['Product model', id.model],
    ['Product hw', hw.targetHw],
    ['Host ID', hostIdHex(id.hostId)],
    ['', ''],
    ['Uptime', formatUptime(box.uptimeMs())],
    ['CPU load averages', load],
    ['Number of CPUs', String(hw.cpus)],
    ['System memory', `${mem.usedMb} MB used / ${mem.freeMb} MB free / ${mem.totalMb} MB total`],
    ['Swap', '0 MB used / 0 MB free / 0 MB total'],
    ['', ''],
    ['System serial num', id.serial],
    ['Crypto mode', box.activeCryptoMode],
  ]);
}

/** `key : value` lines, keys padded so the colons line up, indented by 8 (the real layout). */
function colonBlock(rows: readonly (readonly [string, string])[]): string[] {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `        ${k.padEnd(w)} : ${v}`.trimEnd());
}

/**
 * `show chassis`: one `Chassis:` block of `key : value` lines per member of
 * the cluster (or the one asked for), as the real box prints it; `*` marks
 * the session's box. A member that is down stays listed with
 * `Oper Status : down` and what was last known of it.
 * EMULATION: HW Rev is `n/a`; the real box's backplane, fan tray and power
 * module blocks are not printed (the simulator has none).
 */
function renderChassis(members: readonly Member[], localBoxId: number): string[] {
  const out: string[] = [];
  for (const m of members) {
    const f =
      m.state === 'up'
        ? { identity: m.box.identity, hostname: m.box.hostname, version: m.box.image.version }
        : m.last;
    const hw = modelHardware(f.identity.model);
    if (out.length) out.push('');
    out.push(
      'Chassis:',
      ...colonBlock([
        ['Box ID', `${m.boxId}${m.boxId === localBoxId ? '*' : ''}`],
        ['Hostname', f.hostname],
        ['Config', 'yes'],
        ['Mode', 'normal'],
        ['Oper Status', m.state],
        ['HW Type', hw.chassisType],
        ['Vendor', 'Gigamon'],
        ['Product Code', hw.chassisCode],
        ['Serial Num', f.identity.serial],
        ['HW Rev', 'n/a'],
        ['SW Rev', f.version],
      ]),
    );
  }
  return out;
}

/**
 * `show card`: the real table (Slot Config Oper Status HW Type Product Code
 * Serial Num HW Rev). EMULATION: one row per member, the main board only,
 * slot `<box-id>/cc1`; the card's serial is the chassis serial; HW Rev `n/a`.
 */
function renderCards(members: readonly Member[]): string[] {
  return table(
    ['Slot', 'Config', 'Oper Status', 'HW Type', 'Product Code', 'Serial Num', 'HW Rev'],
    members.map((m) => {
      const identity = m.state === 'up' ? m.box.identity : m.last.identity;
      const hw = modelHardware(identity.model);
      return [
        `${m.boxId}/${hw.board.slot}`,
        'yes',
        m.state,
        hw.board.type,
        hw.board.code,
        identity.serial,
        'n/a',
      ];
    }),
  );
}

/**
 * `show clock`. EMULATION: the Onyx family's layout (Time, Date, Time zone);
 * the time is the box's clock (a lab may move it forward), in the process's zone.
 */
function renderClock(box: Box): string[] {
  const [date, time] = formatLocalTime(box.clock.now()).split(' ');
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  return keyValues([
    ['Time', time!],
    ['Date', date!],
    ['Time zone', zone],
  ]);
}

/** The members `show chassis|card [box-id <id>]` lists: all, or the one asked for (up or down). */
function membersOf(ctx: CommandContext, a: Args): Member[] {
  const all = ctx.cluster.members();
  const id = a.optInt('box-id');
  if (id === undefined) return all;
  const one = all.filter((m) => m.boxId === id);
  if (one.length === 0) ctx.cluster.get(id); // throws the not-found error naming the box-ids
  return one;
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
  // EMULATION: every show command works in every mode (the contract: show version in standard and
  // enable, the ACME status in any mode), except show running-config (enable and config).
  showOfBox(
    'version',
    { version: 'Firmware version, model, host ID, uptime, CPUs and memory' },
    renderVersion,
  ),
  {
    syntax: `show chassis [${BOX_ID}]`,
    modes: ANY_MODE,
    role: 'monitor',
    help: { chassis: 'The boxes of the cluster: box ID, hostname, state, model, codes, serial, version' },
    run: (ctx, a) => renderChassis(membersOf(ctx, a), ctx.boxId),
  },
  {
    syntax: `show card [${BOX_ID}]`,
    modes: ANY_MODE,
    role: 'monitor',
    help: { card: "The cards (main boards) of the cluster's chassis" },
    run: (ctx, a) => renderCards(membersOf(ctx, a)),
  },
  showOfBox('clock', { clock: 'The date, time and time zone of a box' }, renderClock),
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
