/**
 * SNMP notifications (CLI contract, "SNMP notifications"). Communities and
 * passphrases are masked everywhere they are shown. Counters come from the
 * notifier when one is attached (box.snmpStatus()); otherwise `n/a`.
 */
import type { Box } from '../../device/box.js';
import {
  DEFAULT_EXPIRING_SOON_DAYS,
  DEFAULT_SNMP_RATE_PER_SEC,
  MAX_EXPIRING_SOON_DAYS,
  MAX_SNMP_RATE_PER_SEC,
  PORT_MAX,
  SNMP_TRAP_PORT as DEFAULT_PORT,
} from '../../device/limits.js';
import {
  SNMP_EVENTS,
  snmpSecurityLevel,
  type SnmpAuthProtocol,
  type SnmpPrivProtocol,
  type SnmpTarget,
  type SnmpUser,
} from '../../device/model.js';
import type { SnmpTargetCounters } from '../../device/ports.js';
import type { Actor } from '../../device/roles.js';
import { keyValues, MASK } from '../format.js';
import { table } from '../../lib/table.js';
import { CONFIG_ONLY, type Args, type CommandSpec } from '../tree.js';
import { NAMES, showOfBox } from './common.js';

const AUTH: readonly SnmpAuthProtocol[] = ['md5', 'sha', 'sha256', 'sha512'];
const PRIV: readonly SnmpPrivProtocol[] = ['des', 'aes-128', 'aes-256'];
/** EMULATION: the `rate` keyword (notifications per second to one target) and its default are ours. */
const DEFAULT_RATE = DEFAULT_SNMP_RATE_PER_SEC;

/**
 * Names snmptrapd's createUser uses for our protocols (net-snmp: snmptrapd.conf(5)).
 * EMULATION: aes-256 is printed as AES256, net-snmp's name for the Blumenthal
 * key extension (needs a net-snmp built with --enable-blumenthal-aes).
 */
const NETSNMP_AUTH: Record<SnmpAuthProtocol, string> = {
  md5: 'MD5',
  sha: 'SHA',
  sha256: 'SHA-256',
  sha512: 'SHA-512',
};
const NETSNMP_PRIV: Record<SnmpPrivProtocol, string> = { des: 'DES', 'aes-128': 'AES', 'aes-256': 'AES256' };

/** The `snmp-server host` line of a target, community masked. */
function hostLine(t: SnmpTarget): string {
  const port = t.port === DEFAULT_PORT ? '' : ` port ${t.port}`;
  const who = t.version === '3' ? `version 3 user ${t.user}` : `version ${t.version} ${MASK}`;
  const rate = t.ratePerSec === DEFAULT_RATE ? '' : ` rate ${t.ratePerSec}`;
  return `snmp-server host ${t.host}${port} ${t.kind} ${who}${rate}`;
}

function userLine(u: SnmpUser): string {
  const auth = u.auth ? ` auth ${u.auth.protocol} ${MASK}` : '';
  const priv = u.priv ? ` priv ${u.priv.protocol} ${MASK}` : '';
  return `snmp-server user ${u.name} v3${auth}${priv}`;
}

function countersOf(box: Box, t: SnmpTarget): SnmpTargetCounters | undefined {
  return box
    .snmpStatus()
    ?.counters()
    .find((c) => c.target.host === t.host && c.target.port === t.port && c.target.kind === t.kind);
}

/** The address notifications to `t` leave from: the box's, or `any` when the family differs (the kernel picks). */
function sourceOf(box: Box, t: SnmpTarget): string {
  const st = box.snmpStatus();
  if (!st) return 'n/a';
  return st.sourceAddress(t.host) ?? 'any';
}

function setTarget(ctx: Parameters<CommandSpec['run']>[0], a: Args): void {
  const version = a.which(['1', '2c', '3'] as const)!;
  const community = a.opt('community');
  const user = a.opt('snmp-user');
  ctx.box().snmpSetTarget(ctx.actor, {
    host: a.get('host'),
    port: a.optInt('port') ?? DEFAULT_PORT,
    kind: a.has('informs') ? 'informs' : 'traps',
    version,
    ...(community !== undefined ? { community } : {}),
    ...(user !== undefined ? { user } : {}),
    ratePerSec: a.optInt('rate') ?? DEFAULT_RATE,
  });
}

/** `show snmp`. EMULATION: the layouts of show snmp, show snmp host and show snmp engineID are ours. */
function renderSnmp(box: Box): string[] {
  const c = box.config.snmp;
  const st = box.snmpStatus();
  const agent = st?.agentStatus();
  const communities = c.communities ?? [];
  const k = agent?.counters;
  const n = (v: number | undefined) => (v === undefined ? 'n/a' : String(v));
  return [
    ...keyValues([
      ['SNMP enabled', c.enabled ? 'yes' : 'no'],
      ['Agent', agent ? `${agent.address} UDP ${agent.port} (read-only)` : 'n/a'],
      ['Contact', c.contact || '-'],
      ['Location', c.location || '-'],
      ['Communities enabled', (c.communitiesEnabled ?? true) ? 'yes' : 'no'],
      // EMULATION: community strings are masked (the real box may print them).
      [
        'Communities',
        communities.length ? communities.map(() => `${MASK} ro`).join(', ') : 'none (v1/v2c get no answer)',
      ],
      ['Notifications enabled', c.notifyEnabled ? 'yes' : 'no'],
      ['Engine ID', st ? `0x${st.engineId()}` : 'n/a'],
      ['Engine boots', st ? String(st.engineBoots()) : String(box.snmpEngineBoots)],
      ['Engine time', st ? `${st.engineTime()} s` : 'n/a'],
      ['Notification events', c.events.join(', ') || 'none'],
      ['Expiring-soon days', String(c.expiringSoonDays)],
      ['Notification hosts', `${c.targets.length} (see "show snmp host")`],
    ]),
    '',
    'Agent counters:',
    ...keyValues([
      ['In packets', n(k?.inPkts)],
      ['Out packets', n(k?.outPkts)],
      ['Bad community', n(k?.badCommunityNames)],
      ['Bad version', n(k?.badVersions)],
      ['Parse errors', n(k?.asnParseErrs)],
      ['USM errors', n(k?.usmErrors)],
      ['Too big', n(k?.tooBigs)],
      ['SET refused', n(k?.setsRefused)],
      ['Silent drops', n(k?.silentDrops)],
    ]).map((l) => '  ' + l),
    '',
    'SNMPv3 users:',
    ...(c.users.length === 0
      ? ['  none']
      : table(
          ['User', 'Security level', 'Auth', 'Privacy'],
          c.users.map((u) => [
            u.name,
            snmpSecurityLevel(u),
            u.auth?.protocol ?? '-',
            u.priv?.protocol ?? '-',
          ]),
        ).map((l) => '  ' + l)),
  ];
}

/** `show snmp host`: each target, the address its notifications leave from, and its counters (n/a without a notifier). */
export function renderSnmpHosts(box: Box): string[] {
  const targets = box.config.snmp.targets;
  if (targets.length === 0) return ['No SNMP notification hosts; add one with "snmp-server host ...".'];
  const n = (v: number | undefined) => (v === undefined ? 'n/a' : String(v));
  return table(
    [
      'Host',
      'Port',
      'Source',
      'Type',
      'Version',
      'Community/User',
      'Rate/s',
      'Sent',
      'Acknowledged',
      'Retried',
      'Timed out',
      'Dropped',
    ],
    targets.map((t) => {
      const k = countersOf(box, t);
      return [
        t.host,
        String(t.port),
        sourceOf(box, t),
        t.kind,
        t.version,
        t.version === '3' ? `user ${t.user}` : MASK,
        String(t.ratePerSec),
        n(k?.sent),
        n(k?.acknowledged),
        n(k?.retried),
        n(k?.timedOut),
        n(k?.dropped),
      ];
    }),
  );
}

/** `show snmp engineID`: the engine ID and the snmptrapd line a receiver needs for each v3 user. */
function renderEngineId(box: Box): string[] {
  const st = box.snmpStatus();
  if (!st) return ['Local SNMP engineID: n/a (SNMP is not running on this box)'];
  const id = st.engineId();
  const users = box.config.snmp.users;
  const line = (u: SnmpUser | undefined) => {
    const name = u?.name ?? '<user>';
    const auth = u
      ? u.auth
        ? ` ${NETSNMP_AUTH[u.auth.protocol]} <auth-passphrase>`
        : ''
      : ' SHA-256 <auth-passphrase>';
    const priv = u
      ? u.priv
        ? ` ${NETSNMP_PRIV[u.priv.protocol]} <priv-passphrase>`
        : ''
      : ' AES <priv-passphrase>';
    return `  createUser -e 0x${id} ${name}${auth}${priv}`;
  };
  return [
    `Local SNMP engineID: 0x${id}`,
    `Engine boots:        ${st.engineBoots()}`,
    '',
    'For a receiver (snmptrapd.conf), one line per SNMPv3 user:',
    ...(users.length === 0 ? [line(undefined)] : users.map(line)),
  ];
}

const HOST_HELP = {
  host: 'A receiver of notifications',
  '<host>': 'IPv4 or IPv6 address of the receiver',
  port: `UDP port of the receiver (default ${DEFAULT_PORT})`,
  '<port>': 'UDP port',
  traps: 'Send traps (unacknowledged)',
  informs: 'Send informs (acknowledged, retried)',
  version: 'SNMP version',
  '1': 'SNMPv1 (traps only)',
  '2c': 'SNMPv2c',
  '3': 'SNMPv3 (USM user)',
  '<community>': 'Community string',
  user: 'The SNMPv3 user (see "snmp-server user")',
  '<snmp-user>': 'SNMPv3 user name',
  rate: `Notifications per second to this host, at most (default ${DEFAULT_SNMP_RATE_PER_SEC})`,
  '<rate>': 'Notifications per second',
} as const;

const USER_HELP = {
  user: 'An SNMPv3 user',
  '<snmp-user>': 'SNMPv3 user name',
  v3: 'SNMPv3 (USM)',
  auth: 'Authentication protocol and passphrase',
  md5: 'HMAC-MD5 (refused in FIPS mode)',
  sha: 'HMAC-SHA-1',
  sha256: 'HMAC-SHA-256',
  sha512: 'HMAC-SHA-512',
  '<auth-pass>': 'Authentication passphrase (8-64 characters)',
  priv: 'Privacy protocol and passphrase',
  des: 'DES (refused in FIPS mode)',
  'aes-128': 'AES-128',
  'aes-256': 'AES-256',
  '<priv-pass>': 'Privacy passphrase (8-64 characters)',
} as const;

const EVENT_HELP: Record<(typeof SNMP_EVENTS)[number], string> = {
  'cert-issued': 'An ACME certificate was issued',
  'cert-renewed': 'An ACME certificate was renewed',
  'cert-renewal-failed': 'A renewal failed',
  'cert-revoked': 'An ACME certificate was revoked',
  'cert-cleared': 'The ACME certificate was cleared',
  'cert-expiring-soon': 'A certificate expires soon with no renewal in sight',
  'cold-start': 'The box started',
  'warm-start': 'The box reloaded',
  reset: "Gigamon's reset notification, on every boot and reload",
  'config-save': "Gigamon's config-save notification, on write memory",
  'firmware-change': "Gigamon's firmware-change notification, when a new image is active",
  'auth-fail': "Gigamon's user authentication failure notification (SSH, TCP, REST)",
};

const RATE = `[rate <rate:int:1-${MAX_SNMP_RATE_PER_SEC}>]`;
const HOST_PREFIX = `snmp-server host <host> [port <port:int:1-${PORT_MAX}>] {traps|informs} version`;

/** The framework's order: `snmp-server host <ip> traps port <p> [version {1|2c}] <community>` (version 2c by default). */
function setFrameworkTarget(ctx: Parameters<CommandSpec['run']>[0], a: Args): void {
  const community = a.opt('community');
  ctx.box().snmpSetTarget(ctx.actor, {
    host: a.get('host'),
    port: a.optInt('port') ?? DEFAULT_PORT,
    kind: 'traps',
    version: a.which(['1', '2c'] as const) ?? '2c',
    ...(community !== undefined ? { community } : {}),
    ratePerSec: DEFAULT_RATE,
  });
}

/** `show snmp user`: the v3 users (never their passphrases). */
function renderSnmpUsers(box: Box): string[] {
  const users = box.config.snmp.users;
  if (users.length === 0) return ['No SNMPv3 users; add one with "snmp-server user <name> v3 ...".'];
  return table(
    ['User', 'Security level', 'Auth', 'Privacy', 'Used by'],
    users.map((u) => [
      u.name,
      snmpSecurityLevel(u),
      u.auth?.protocol ?? '-',
      u.priv?.protocol ?? '-',
      box.config.snmp.targets.some((t) => t.user === u.name) ? 'notifications, agent' : 'agent',
    ]),
  );
}

/** `show snmp events`: every notification event and whether it is sent. */
function renderSnmpEvents(box: Box): string[] {
  const on = new Set(box.config.snmp.events);
  return table(
    ['Event', 'Sent', 'What'],
    SNMP_EVENTS.map((e) => [e, on.has(e) ? 'yes' : 'no', EVENT_HELP[e]]),
  );
}

/**
 * `snmp-server <word> <text>` and `no snmp-server <word>` (which clears it):
 * a text object of the agent (sysContact, sysLocation), shown in the
 * running config when set.
 */
function agentText(
  word: 'contact' | 'location',
  object: string,
  what: string,
  set: (box: Box, actor: Actor, text: string) => void,
): CommandSpec[] {
  return [
    {
      syntax: `snmp-server ${word} <text:rest>`,
      modes: CONFIG_ONLY,
      role: 'operator',
      help: { [word]: `${object} of the agent`, '<text>': `${what} (up to 255 characters)` },
      run: (ctx, a) => set(ctx.box(), ctx.actor, a.get('text')),
      section: 'SNMP',
      render: (box) => (box.config.snmp[word] ? [`snmp-server ${word} ${box.config.snmp[word]}`] : []),
    },
    {
      syntax: `no snmp-server ${word}`,
      modes: CONFIG_ONLY,
      role: 'operator',
      help: { [word]: `Clear ${object}` },
      run: (ctx) => set(ctx.box(), ctx.actor, ''),
    },
  ];
}

/** SNMP configuration (operator; communities and v3 users admin) and the SNMP show commands. */
export const SNMP_COMMANDS: readonly CommandSpec[] = [
  {
    syntax: 'snmp-server community <community> [ro]',
    modes: CONFIG_ONLY,
    role: 'admin', // the agent's credentials (device/box-snmp.ts)
    help: {
      community: 'A read-only community of the SNMP agent (v1/v2c)',
      '<community>': 'Community string (1-64 printable characters)',
      ro: 'Read-only (the only access the agent gives)',
    },
    run: (ctx, a) => ctx.box().snmpAddCommunity(ctx.actor, a.get('community')),
    section: 'SNMP',
    // EMULATION: communities are masked in the running config (the real box may print them).
    render: (box) => (box.config.snmp.communities ?? []).map(() => `snmp-server community ${MASK} ro`),
  },
  {
    syntax: 'no snmp-server community <community>',
    modes: CONFIG_ONLY,
    role: 'admin', // the agent's credentials (device/box-snmp.ts)
    help: { community: 'Remove a community', '<community>': 'Community string' },
    run: (ctx, a) => ctx.box().snmpRemoveCommunity(ctx.actor, a.get('community')),
  },
  {
    syntax: 'snmp-server enable communities',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: { enable: 'Turn SNMP on', communities: 'Answer v1/v2c requests by community (default on)' },
    run: (ctx) => ctx.box().snmpCommunitiesEnable(ctx.actor, true),
    section: 'SNMP',
    render: (box) =>
      (box.config.snmp.communitiesEnabled ?? true) ? [] : ['no snmp-server enable communities'],
  },
  {
    syntax: 'no snmp-server enable communities',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: { enable: 'Turn SNMP off', communities: 'Stop answering v1/v2c requests' },
    run: (ctx) => ctx.box().snmpCommunitiesEnable(ctx.actor, false),
  },
  ...agentText('contact', 'sysContact', 'Who to contact', (box, actor, text) =>
    box.snmpSetContact(actor, text),
  ),
  ...agentText('location', 'sysLocation', 'Where the box is', (box, actor, text) =>
    box.snmpSetLocation(actor, text),
  ),
  {
    syntax: 'snmp-server port <port:int:1-65535>',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: { port: 'UDP port of the SNMP agent (default 161)', '<port>': 'UDP port' },
    run: (ctx, a) => ctx.box().snmpSetAgentPort(ctx.actor, a.optInt('port')),
    section: 'SNMP',
    render: (box) =>
      box.config.snmp.agentPort !== undefined ? [`snmp-server port ${box.config.snmp.agentPort}`] : [],
  },
  {
    syntax: 'no snmp-server port',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: { port: "Back to the box's default agent port" },
    run: (ctx) => ctx.box().snmpSetAgentPort(ctx.actor, undefined),
  },
  {
    syntax: 'snmp-server host <host> traps port <port:int:1-65535> [version {1|2c}] <community>',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: HOST_HELP,
    run: setFrameworkTarget,
  },
  showOfBox('snmp user', { user: 'SNMPv3 users (never their passphrases)' }, renderSnmpUsers),
  showOfBox('snmp events', { events: 'Notification events and whether each is sent' }, renderSnmpEvents),
  {
    syntax: 'snmp-server enable',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: { enable: 'Turn SNMP on' },
    run: (ctx) => ctx.box().snmpEnable(ctx.actor, true),
    section: 'SNMP',
    render: (box) => (box.config.snmp.enabled ? ['snmp-server enable'] : []),
  },
  {
    syntax: 'snmp-server enable notify',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: { enable: 'Turn SNMP on', notify: 'Turn notifications (traps, informs) on' },
    run: (ctx) => ctx.box().snmpNotifyEnable(ctx.actor, true),
    section: 'SNMP',
    render: (box) => (box.config.snmp.notifyEnabled ? ['snmp-server enable notify'] : []),
  },
  {
    syntax: 'no snmp-server enable',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: { enable: 'Turn SNMP off' },
    run: (ctx) => ctx.box().snmpEnable(ctx.actor, false),
  },
  {
    syntax: 'no snmp-server enable notify',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: { enable: 'Turn SNMP off', notify: 'Turn notifications off' },
    run: (ctx) => ctx.box().snmpNotifyEnable(ctx.actor, false),
  },
  {
    syntax:
      'snmp-server user <snmp-user> v3 [auth {md5|sha|sha256|sha512} <auth-pass> [priv {des|aes-128|aes-256} <priv-pass>]]',
    modes: CONFIG_ONLY,
    role: 'admin', // the agent's credentials (device/box-snmp.ts)
    help: USER_HELP,
    run: (ctx, a) => {
      const authProto = a.which(AUTH);
      const privProto = a.which(PRIV);
      ctx.box().snmpSetUser(ctx.actor, {
        name: a.get('snmp-user'),
        ...(authProto ? { auth: { protocol: authProto, password: a.get('auth-pass') } } : {}),
        ...(privProto ? { priv: { protocol: privProto, password: a.get('priv-pass') } } : {}),
      });
    },
    section: 'SNMP',
    render: (box) => box.config.snmp.users.map(userLine),
  },
  {
    syntax: 'no snmp-server user <snmp-user>',
    values: { 'snmp-user': NAMES.snmpUser },
    modes: CONFIG_ONLY,
    role: 'admin', // the agent's credentials (device/box-snmp.ts)
    help: { user: 'Delete an SNMPv3 user', '<snmp-user>': 'SNMPv3 user name' },
    run: (ctx, a) => ctx.box().snmpRemoveUser(ctx.actor, a.get('snmp-user')),
  },
  {
    syntax: `${HOST_PREFIX} {1|2c} <community> ${RATE}`,
    modes: CONFIG_ONLY,
    role: 'operator',
    help: HOST_HELP,
    run: setTarget,
    section: 'SNMP',
    render: (box) => box.config.snmp.targets.map(hostLine),
  },
  {
    syntax: `${HOST_PREFIX} 3 user <snmp-user> ${RATE}`,
    values: { 'snmp-user': NAMES.snmpUser },
    modes: CONFIG_ONLY,
    role: 'operator',
    help: HOST_HELP,
    run: setTarget,
  },
  {
    syntax: `no snmp-server host <host> [port <port:int:1-${PORT_MAX}>]`,
    values: { host: NAMES.snmpHost },
    modes: CONFIG_ONLY,
    role: 'operator',
    help: {
      host: 'Remove a receiver (every type, or the one on this port)',
      '<host>': 'The receiver address',
      port: 'Only the one on this port',
      '<port>': 'UDP port',
    },
    run: (ctx, a) => ctx.box().snmpRemoveTarget(ctx.actor, a.get('host'), a.optInt('port')),
  },
  {
    syntax: `snmp-server notify event {${SNMP_EVENTS.join('|')}}`,
    modes: CONFIG_ONLY,
    role: 'operator',
    help: {
      ...EVENT_HELP,
      notify: 'Notification settings',
      event: 'Send this notification (all are on by default)',
    },
    run: (ctx, a) => ctx.box().snmpSetEvent(ctx.actor, a.which(SNMP_EVENTS)!, true),
    section: 'SNMP',
    render: (box) =>
      SNMP_EVENTS.filter((e) => !box.config.snmp.events.includes(e)).map(
        (e) => `no snmp-server notify event ${e}`,
      ),
  },
  {
    syntax: `no snmp-server notify event {${SNMP_EVENTS.join('|')}}`,
    modes: CONFIG_ONLY,
    role: 'operator',
    help: { ...EVENT_HELP, notify: 'Notification settings', event: 'Stop sending this notification' },
    run: (ctx, a) => ctx.box().snmpSetEvent(ctx.actor, a.which(SNMP_EVENTS)!, false),
  },
  {
    // EMULATION: `expiring-soon-days` is ours (the device has no certificate notification of its own).
    syntax: `snmp-server notify expiring-soon-days <days:int:1-${MAX_EXPIRING_SOON_DAYS}>`,
    modes: CONFIG_ONLY,
    role: 'operator',
    help: {
      'expiring-soon-days': 'Days before expiry of the expiring-soon notification',
      '<days>': `Days (1-${MAX_EXPIRING_SOON_DAYS}, default ${DEFAULT_EXPIRING_SOON_DAYS})`,
    },
    run: (ctx, a) => ctx.box().snmpSetExpiringSoonDays(ctx.actor, a.optInt('days')!),
    section: 'SNMP',
    render: (box) =>
      box.config.snmp.expiringSoonDays === DEFAULT_EXPIRING_SOON_DAYS
        ? []
        : [`snmp-server notify expiring-soon-days ${box.config.snmp.expiringSoonDays}`],
  },
  {
    syntax: 'snmp-server notify send-test',
    modes: CONFIG_ONLY,
    role: 'operator',
    help: { 'send-test': 'Send a test notification to every host now' },
    run: async (ctx) => {
      const box = ctx.box();
      await box.snmpSendTest(ctx.actor);
      const n = box.config.snmp.targets.length;
      return `Test notification sent to ${n} host${n === 1 ? '' : 's'}; see "show snmp host" for the counters.`;
    },
  },
  showOfBox('snmp', { snmp: 'SNMP settings, engine and users' }, renderSnmp),
  showOfBox('snmp host', { host: 'Notification hosts and their counters' }, renderSnmpHosts),
  showOfBox(
    'snmp engineID',
    { engineID: 'The SNMPv3 engine ID, and the snmptrapd createUser line for each user' },
    renderEngineId,
  ),
];
