/**
 * System settings of a box (CLI contract, "System"): hostname, name
 * servers, domain list, crypto mode, `write memory`, `reload`. Running-config
 * settings: they persist on `write memory`.
 */
import { activeConfigFile } from './box-config-files.js';
import { setting, stored, UNCHANGED, type BoxCore } from './box-core.js';
import { DeviceError } from './errors.js';
import { MAX_DOMAIN_LIST, MAX_NAME_SERVERS } from './limits.js';
import type { CryptoMode } from './model.js';
import { requireRole, type Actor } from './roles.js';
import { clip, validateDomain, validateHostname, validateNameServer } from './validate.js';

export const setHostname = setting({
  role: 'operator',
  section: 'system',
  apply: ({ draft }, name: string) => {
    draft.hostname = validateHostname(name);
  },
  audit: ([name]) => `hostname ${name}`,
});

export const addNameServer = setting({
  role: 'operator',
  section: 'system',
  apply: ({ draft }, spec: string) => {
    validateNameServer(spec);
    if (draft.nameServers.includes(spec)) return UNCHANGED;
    if (draft.nameServers.length >= MAX_NAME_SERVERS) {
      throw new DeviceError(
        'bad-input',
        `At most ${MAX_NAME_SERVERS} name servers; remove one with "no ip name-server <ip>" first.`,
      );
    }
    draft.nameServers.push(spec);
  },
  audit: ([spec]) => `ip name-server ${spec}`,
});

export const removeNameServer = setting({
  role: 'operator',
  section: 'system',
  apply: ({ draft }, spec: string) => {
    const i = draft.nameServers.indexOf(spec);
    if (i < 0) throw new DeviceError('not-found', `Name server "${clip(spec)}" is not configured.`);
    draft.nameServers.splice(i, 1);
  },
  audit: ([spec]) => `no ip name-server ${spec}`,
});

export const addDomainListEntry = setting({
  role: 'operator',
  section: 'system',
  apply: ({ draft }, domain: string) => {
    const d = validateDomain(domain);
    if (draft.domainList.includes(d)) return UNCHANGED;
    if (draft.domainList.length >= MAX_DOMAIN_LIST) {
      throw new DeviceError('bad-input', `At most ${MAX_DOMAIN_LIST} domains in the domain list.`);
    }
    draft.domainList.push(d);
  },
  // Valid by now: apply checked it.
  audit: ([domain]) => `ip domain-list ${validateDomain(domain)}`,
});

export const removeDomainListEntry = setting({
  role: 'operator',
  section: 'system',
  apply: ({ draft }, domain: string) => {
    const i = draft.domainList.indexOf(domain.toLowerCase());
    if (i < 0) throw new DeviceError('not-found', `Domain "${clip(domain)}" is not in the domain list.`);
    draft.domainList.splice(i, 1);
  },
  audit: ([domain]) => `no ip domain-list ${domain}`,
});

/** `crypto mode`: takes effect after reload (and write memory). */
// EMULATION: `crypto mode` is a CLI command, effective after reload (the real box gets it from the manager).
export const setCryptoMode = setting({
  role: 'admin',
  section: 'crypto',
  apply: ({ draft }, mode: CryptoMode) => {
    draft.cryptoMode = mode;
  },
  audit: ([mode]) => `crypto mode ${mode}`,
});

/**
 * `[no] cli default paging enable`: the default for paging of CLI sessions
 * (a session's own `cli session paging` setting wins). Stored as absent when
 * on, so configurations saved before the setting existed read as on.
 */
export const setCliDefaultPaging = setting({
  role: 'operator',
  section: 'system',
  apply: ({ draft }, on: boolean) => {
    if ((draft.cliPaging ?? true) === on) return UNCHANGED;
    if (on) delete draft.cliPaging;
    else draft.cliPaging = false;
  },
  audit: ([on]) => `${on ? '' : 'no '}cli default paging enable`,
});

/** `write memory`: the running config becomes the saved config. */
export const writeMemory = stored({
  role: 'operator',
  apply: ({ draft, core }) => {
    draft.config = structuredClone(core.running);
  },
  audit: () => 'write memory',
  // EMULATION: the saved configuration's file name is the active file's (Onyx's default "initial" until a switch-to).
  after: (core, actor) =>
    core.events.emit('config-saved', {
      boxId: core.boxId,
      user: actor.user,
      fileName: activeConfigFile(core.doc),
    }),
});

/** `reload`: the host restarts the box with its saved config; unsaved changes are lost. */
export function requestReload(core: BoxCore, actor: Actor): void {
  requireRole(actor, 'operator');
  core.audit(actor, 'reload');
  core.events.emit('reload-requested', { boxId: core.boxId });
}
