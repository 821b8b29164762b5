/**
 * SNMP settings (CLI contract, "SNMP notifications"): on/off, targets, v3
 * users, events, the expiring-soon lead time. Running-config settings; the
 * notifier (snmp/) reads them through box.config and config-changed.
 */
import { isIP } from 'node:net';
import { setting, type BoxCore } from './box-core.js';
import { DeviceError } from './errors.js';
import {
  MAX_EXPIRING_SOON_DAYS,
  MAX_SNMP_COMMUNITIES,
  MAX_SNMP_COMMUNITY_LENGTH,
  MAX_SNMP_RATE_PER_SEC,
  MAX_SNMP_TEXT_LENGTH,
  SNMP_PASSPHRASE_LENGTH,
  MAX_SNMP_TARGETS,
  PORT_MAX,
  PORT_MIN,
} from './limits.js';
import {
  SNMP_EVENTS,
  type RunningConfig,
  type SnmpEventName,
  type SnmpTarget,
  type SnmpUser,
} from './model.js';
import { requireRole, type Actor } from './roles.js';
import { clip, validateInt, validateName } from './validate.js';

/** `[no] snmp-server enable`. */
export const snmpEnable = setting({
  role: 'operator',
  section: 'snmp',
  apply: ({ draft }, on: boolean) => {
    draft.snmp.enabled = on;
  },
  audit: ([on]) => `${on ? '' : 'no '}snmp-server enable`,
});

/** `[no] snmp-server enable notify`. */
export const snmpNotifyEnable = setting({
  role: 'operator',
  section: 'snmp',
  apply: ({ draft }, on: boolean) => {
    draft.snmp.notifyEnabled = on;
  },
  audit: ([on]) => `${on ? '' : 'no '}snmp-server enable notify`,
});

/** Communities and sysContact/sysLocation texts, within device/limits.ts. */
const COMMUNITY = new RegExp(`^[\\x21-\\x7e]{1,${MAX_SNMP_COMMUNITY_LENGTH}}$`);
const DISPLAY_STRING = new RegExp(`^[\\x20-\\x7e]{0,${MAX_SNMP_TEXT_LENGTH}}$`);

/** Throw unless `community` is a valid community string. */
function checkCommunity(community: string): void {
  if (!COMMUNITY.test(community))
    throw new DeviceError('bad-input', 'Invalid community: use 1-64 printable characters without spaces.');
}

/**
 * `snmp-server community <c> [ro]`: a read-only community of the agent
 * (secret: shown masked).
 * EMULATION: only admin may change communities and v3 users: they are the agent's credentials (as user management).
 */
export const snmpAddCommunity = setting({
  role: 'admin',
  section: 'snmp',
  apply: ({ draft }, community: string) => {
    checkCommunity(community);
    const list = (draft.snmp.communities ?? []).filter((c) => c !== community);
    if (list.length >= MAX_SNMP_COMMUNITIES)
      throw new DeviceError('bad-input', `At most ${MAX_SNMP_COMMUNITIES} SNMP communities.`);
    draft.snmp.communities = [...list, community];
  },
  // Never the community itself in the audit log.
  audit: () => 'snmp-server community ******** ro',
});

/** `no snmp-server community <c>`. */
export const snmpRemoveCommunity = setting({
  role: 'admin',
  section: 'snmp',
  apply: ({ draft }, community: string) => {
    const list = draft.snmp.communities ?? [];
    if (!list.includes(community)) throw new DeviceError('not-found', 'No such SNMP community.');
    draft.snmp.communities = list.filter((c) => c !== community);
  },
  audit: () => 'no snmp-server community ********',
});

/** Replace every community at once (REST): the same rules as `snmp-server community`, all or nothing. */
export const snmpSetCommunities = setting({
  role: 'admin',
  section: 'snmp',
  apply: ({ draft }, communities: readonly string[]) => {
    communities.forEach(checkCommunity);
    const list = [...new Set(communities)];
    if (list.length > MAX_SNMP_COMMUNITIES)
      throw new DeviceError('bad-input', `At most ${MAX_SNMP_COMMUNITIES} SNMP communities.`);
    draft.snmp.communities = list;
  },
  audit: ([list]) =>
    `snmp-server communities ${list.length === 0 ? '(none)' : list.map(() => '********').join(' ')}`,
});

/** `[no] snmp-server enable communities`: v1/v2c access to the agent. */
export const snmpCommunitiesEnable = setting({
  role: 'operator',
  section: 'snmp',
  apply: ({ draft }, on: boolean) => {
    draft.snmp.communitiesEnabled = on;
  },
  audit: ([on]) => `${on ? '' : 'no '}snmp-server enable communities`,
});

/** Set sysContact or sysLocation on a draft (empty = none). */
function applyText(draft: RunningConfig, which: 'contact' | 'location', text: string): void {
  if (!DISPLAY_STRING.test(text))
    throw new DeviceError('bad-input', `Invalid ${which}: use at most 255 printable characters.`);
  draft.snmp[which] = text;
}

/** Set the agent's UDP port on a draft (undefined = the box's default). */
function applyAgentPort(draft: RunningConfig, port: number | undefined): void {
  if (port === undefined) delete draft.snmp.agentPort;
  else draft.snmp.agentPort = validateInt('port', port, PORT_MIN, PORT_MAX);
}

/** `snmp-server contact <text>` / `snmp-server location <text>` (empty = none): sysContact, sysLocation. */
export const snmpSetText = setting({
  role: 'operator',
  section: 'snmp',
  apply: ({ draft }, which: 'contact' | 'location', text: string) => applyText(draft, which, text),
  audit: ([which, text]) => `snmp-server ${which} ${clip(text)}`,
});

/** `snmp-server port <p>` / `no snmp-server port` (undefined): the agent's UDP port. */
export const snmpSetAgentPort = setting({
  role: 'operator',
  section: 'snmp',
  apply: ({ draft }, port: number | undefined) => applyAgentPort(draft, port),
  audit: ([port]) => (port === undefined ? 'no snmp-server port' : `snmp-server port ${port}`),
});

/** The agent and notification settings one REST update may change together (absent = unchanged). */
export interface SnmpSettingsPatch {
  enabled?: boolean;
  notifyEnabled?: boolean;
  communitiesEnabled?: boolean;
  contact?: string;
  location?: string;
  /** null: back to the box's default port. */
  agentPort?: number | null;
  expiringSoonDays?: number;
  /** The full set of enabled notification events. */
  events?: readonly string[];
}

/**
 * Several SNMP settings at once (REST PUT /snmp): each checked as its CLI
 * command checks it, all applied or none; one audit line with the commands
 * the change amounts to.
 */
export const snmpUpdate = setting({
  role: 'operator',
  section: 'snmp',
  apply: ({ draft }, p: SnmpSettingsPatch) => {
    if (p.enabled !== undefined) draft.snmp.enabled = p.enabled;
    if (p.notifyEnabled !== undefined) draft.snmp.notifyEnabled = p.notifyEnabled;
    if (p.communitiesEnabled !== undefined) draft.snmp.communitiesEnabled = p.communitiesEnabled;
    if (p.contact !== undefined) applyText(draft, 'contact', p.contact);
    if (p.location !== undefined) applyText(draft, 'location', p.location);
    if (p.agentPort !== undefined) applyAgentPort(draft, p.agentPort ?? undefined);
    if (p.expiringSoonDays !== undefined) applyExpiringSoonDays(draft, p.expiringSoonDays);
    if (p.events !== undefined) {
      for (const e of p.events) checkEvent(e);
      draft.snmp.events = SNMP_EVENTS.filter((e) => p.events!.includes(e));
    }
  },
  audit: ([p]) => patchAudit(p),
});

/** The CLI commands a patch amounts to, `; `-separated, for the audit log. */
function patchAudit(p: SnmpSettingsPatch): string {
  const no = (on: boolean) => (on ? '' : 'no ');
  const lines: string[] = [];
  if (p.enabled !== undefined) lines.push(`${no(p.enabled)}snmp-server enable`);
  if (p.notifyEnabled !== undefined) lines.push(`${no(p.notifyEnabled)}snmp-server enable notify`);
  if (p.communitiesEnabled !== undefined)
    lines.push(`${no(p.communitiesEnabled)}snmp-server enable communities`);
  if (p.contact !== undefined) lines.push(`snmp-server contact ${clip(p.contact)}`);
  if (p.location !== undefined) lines.push(`snmp-server location ${clip(p.location)}`);
  if (p.agentPort !== undefined)
    lines.push(p.agentPort === null ? 'no snmp-server port' : `snmp-server port ${p.agentPort}`);
  if (p.expiringSoonDays !== undefined)
    lines.push(`snmp-server notify expiring-soon-days ${p.expiringSoonDays}`);
  if (p.events !== undefined) lines.push(`snmp-server notify events ${p.events.join(',') || '(none)'}`);
  return lines.join('; ') || 'snmp-server (no change)';
}

/** Add or replace the target with the same host, port and kind. */
export const snmpSetTarget = setting({
  role: 'operator',
  section: 'snmp',
  apply: ({ draft }, t: SnmpTarget) => {
    if (!isIP(t.host))
      throw new DeviceError(
        'bad-input',
        `Invalid SNMP host "${clip(t.host)}": give an IPv4 or IPv6 address.`,
      );
    if (t.version === '3' && !t.user)
      throw new DeviceError('bad-input', 'An SNMPv3 target needs a user ("... version 3 user <name>").');
    if (t.version !== '3' && !t.community)
      throw new DeviceError('bad-input', 'An SNMPv1/v2c target needs a community.');
    if (t.community !== undefined && !/^[\x20-\x7e]{1,64}$/.test(t.community)) {
      throw new DeviceError('bad-input', 'Invalid community: use 1-64 printable characters.');
    }
    if (t.kind === 'informs' && t.version === '1')
      throw new DeviceError('bad-input', 'SNMPv1 has no informs; use version 2c or 3.');
    validateInt('port', t.port, PORT_MIN, PORT_MAX);
    validateInt('rate', t.ratePerSec, 1, MAX_SNMP_RATE_PER_SEC);
    if (t.version === '3' && !draft.snmp.users.some((u) => u.name === t.user)) {
      throw new DeviceError(
        'not-found',
        `SNMPv3 user "${clip(t.user ?? '')}" does not exist; create it with "snmp-server user ${clip(t.user ?? '')} v3 ..." first.`,
      );
    }
    const others = draft.snmp.targets.filter(
      (x) => !(x.host === t.host && x.port === t.port && x.kind === t.kind),
    );
    if (others.length >= MAX_SNMP_TARGETS)
      throw new DeviceError('bad-input', `At most ${MAX_SNMP_TARGETS} SNMP hosts.`);
    draft.snmp.targets = [...others, t];
  },
  audit: ([t]) => `snmp-server host ${t.host} port ${t.port} ${t.kind} version ${t.version}`,
});

/** `no snmp-server host <host> [port <p>]`. */
export const snmpRemoveTarget = setting({
  role: 'operator',
  section: 'snmp',
  apply: ({ draft }, host: string, port?: number) => {
    const keep = draft.snmp.targets.filter(
      (x) => !(x.host === host && (port === undefined || x.port === port)),
    );
    if (keep.length === draft.snmp.targets.length)
      throw new DeviceError('not-found', `SNMP host "${clip(host)}" is not configured.`);
    draft.snmp.targets = keep;
  },
  audit: ([host]) => `no snmp-server host ${host}`,
});

/** Add or replace an SNMPv3 user (admin: see snmpAddCommunity). MD5 and DES are refused in FIPS mode. */
export const snmpSetUser = setting({
  role: 'admin',
  section: 'snmp',
  apply: ({ draft, core }, u: SnmpUser) => {
    validateName('SNMP user', u.name);
    if (core.activeCryptoMode === 'fips' && (u.auth?.protocol === 'md5' || u.priv?.protocol === 'des')) {
      throw new DeviceError(
        'unsupported',
        'MD5 and DES are not allowed in FIPS mode; use sha/sha256/sha512 and aes-128/aes-256.',
      );
    }
    if (u.priv && !u.auth)
      throw new DeviceError('bad-input', 'Privacy needs authentication: give "auth ... priv ...".');
    for (const s of [u.auth?.password, u.priv?.password]) {
      const { min, max } = SNMP_PASSPHRASE_LENGTH;
      if (s !== undefined && (s.length < min || s.length > max)) {
        throw new DeviceError('bad-input', `SNMPv3 passphrases must have ${min} to ${max} characters.`);
      }
    }
    draft.snmp.users = [...draft.snmp.users.filter((x) => x.name !== u.name), u];
  },
  audit: ([u]) => `snmp-server user ${u.name} v3`,
});

/** `no snmp-server user <name>` (admin): refused while a target uses it. */
export const snmpRemoveUser = setting({
  role: 'admin',
  section: 'snmp',
  apply: ({ draft }, name: string) => {
    if (draft.snmp.targets.some((t) => t.user === name)) {
      throw new DeviceError('in-use', `SNMP user "${clip(name)}" is used by a host; remove the host first.`);
    }
    const keep = draft.snmp.users.filter((x) => x.name !== name);
    if (keep.length === draft.snmp.users.length)
      throw new DeviceError('not-found', `SNMP user "${clip(name)}" does not exist.`);
    draft.snmp.users = keep;
  },
  audit: ([name]) => `no snmp-server user ${name}`,
});

/** Throw unless `name` is a notification event. */
function checkEvent(name: string): asserts name is SnmpEventName {
  if (!(SNMP_EVENTS as readonly string[]).includes(name)) {
    throw new DeviceError(
      'bad-input',
      `Unknown event "${clip(name)}"; use one of ${SNMP_EVENTS.join(', ')}.`,
    );
  }
}

function applyExpiringSoonDays(draft: RunningConfig, days: number): void {
  draft.snmp.expiringSoonDays = validateInt('days', days, 1, MAX_EXPIRING_SOON_DAYS);
}

/** `snmp-server notify event <name>` / `no ...`. */
export const snmpSetEvent = setting({
  role: 'operator',
  section: 'snmp',
  apply: ({ draft }, name: string, on: boolean) => {
    checkEvent(name);
    const set = new Set(draft.snmp.events);
    if (on) set.add(name);
    else set.delete(name);
    draft.snmp.events = SNMP_EVENTS.filter((e) => set.has(e));
  },
  audit: ([name, on]) => `${on ? '' : 'no '}snmp-server notify event ${name}`,
});

/** `snmp-server notify expiring-soon-days <n>`. */
export const snmpSetExpiringSoonDays = setting({
  role: 'operator',
  section: 'snmp',
  apply: ({ draft }, days: number) => applyExpiringSoonDays(draft, days),
  audit: ([days]) => `snmp-server notify expiring-soon-days ${days}`,
});

/** `snmp-server notify send-test`. */
export async function snmpSendTest(core: BoxCore, actor: Actor): Promise<void> {
  requireRole(actor, 'operator');
  if (!core.snmp) throw new DeviceError('unsupported', 'SNMP is not available on this box.');
  const cfg = core.running.snmp;
  if (!cfg.enabled || !cfg.notifyEnabled) {
    throw new DeviceError(
      'precondition',
      'SNMP notifications are off; use "snmp-server enable" and "snmp-server enable notify".',
    );
  }
  if (cfg.targets.length === 0)
    throw new DeviceError('precondition', 'No SNMP host configured; add one with "snmp-server host ...".');
  await core.snmp.sendTest();
}
