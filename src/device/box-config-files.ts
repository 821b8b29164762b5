/**
 * Configuration files (CLI contract, "System"; the framework's
 * `configuration upload|fetch|switch-to`, as QualiSystems' shell uses them
 * for backup and restore): the active file is the saved configuration
 * (`write memory` writes it, a reload boots from it); other files are kept
 * beside it in the box's document and one of them may become the active one.
 * Admin only: a file holds the users' password hashes and the SNMP secrets.
 */
import { stored, type BoxCore, type ConfigSection } from './box-core.js';
import { DeviceError } from './errors.js';
import { INITIAL_CONFIG_FILE, MAX_CONFIG_FILES } from './limits.js';
import type { BoxDocument, RunningConfig } from './model.js';
import type { ConfigFileTransfer } from './ports.js';
import { requireRole, type Actor } from './roles.js';
import { clip, validateName } from './validate.js';

/** One row of `show configuration files`. */
export interface ConfigFileInfo {
  name: string;
  active: boolean;
  /** When a kept file was fetched or stopped being active; undefined for the active file. */
  storedAtMs: number | undefined;
  hostname: string;
}

/** The name of the active configuration file. */
export function activeConfigFile(doc: Readonly<BoxDocument>): string {
  return doc.activeConfigFile ?? INITIAL_CONFIG_FILE;
}

/** The active file first, then the kept ones by name. */
export function configFiles(core: BoxCore): ConfigFileInfo[] {
  const doc = core.doc;
  const kept = Object.entries(doc.configFiles ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, f]) => ({ name, active: false, storedAtMs: f.storedAtMs, hostname: f.config.hostname }));
  return [
    { name: activeConfigFile(doc), active: true, storedAtMs: undefined, hostname: doc.config.hostname },
    ...kept,
  ];
}

function transfer(core: BoxCore): ConfigFileTransfer {
  if (!core.configTransfer)
    throw new DeviceError('unsupported', 'This box cannot transfer configuration files (no file access).');
  return core.configTransfer;
}

function fileNamed(doc: Readonly<BoxDocument>, name: string): RunningConfig {
  if (name === activeConfigFile(doc)) return doc.config;
  const f = Object.hasOwn(doc.configFiles ?? {}, name) ? doc.configFiles![name] : undefined;
  if (!f) {
    const names = [activeConfigFile(doc), ...Object.keys(doc.configFiles ?? {})].join(', ');
    throw new DeviceError('not-found', `No configuration file "${clip(name)}" (files: ${names}).`);
  }
  return f.config;
}

/**
 * `configuration upload {active|<file>} <url>`: write the file (the active
 * one is the saved configuration, not unsaved changes) to `url`.
 * Resolves to the path written.
 */
export async function uploadConfigFile(
  core: BoxCore,
  actor: Actor,
  which: string,
  url: string,
): Promise<string> {
  requireRole(actor, 'admin');
  const name = which === 'active' ? activeConfigFile(core.doc) : which;
  const config = fileNamed(core.doc, name);
  const path = await transfer(core).upload(url, {
    config: structuredClone(config),
    model: core.doc.identity.model,
    release: core.doc.firmware.running,
    name,
  });
  core.audit(actor, `configuration upload ${which} ${url}`);
  return path;
}

const keepFile = stored({
  role: 'admin',
  apply: ({ draft, core }, name: string, config: RunningConfig, _url: string) => {
    if (name === activeConfigFile(draft))
      throw new DeviceError(
        'in-use',
        `"${name}" is the active configuration file; fetch under another name (configuration fetch <url> <name>).`,
      );
    const files = (draft.configFiles ??= {});
    if (!Object.hasOwn(files, name) && Object.keys(files).length + 1 >= MAX_CONFIG_FILES)
      throw new DeviceError(
        'bad-input',
        `At most ${MAX_CONFIG_FILES} configuration files; delete one with "configuration delete <name>" first.`,
      );
    files[name] = { config, storedAtMs: core.clock.now() };
  },
  audit: ([name, , url]) => `configuration fetch ${url} ${name}`,
});

/**
 * `configuration fetch <url> [<name>]`: read a configuration file and keep it
 * under `name` (default: the URL's last path segment). A kept file of that
 * name is replaced; the active file is never overwritten. Resolves to the name.
 */
export async function fetchConfigFile(
  core: BoxCore,
  actor: Actor,
  url: string,
  name: string | undefined,
): Promise<string> {
  requireRole(actor, 'admin');
  const as = validateName('configuration file name', name ?? lastSegment(url));
  const file = await transfer(core).fetch(url);
  await keepFile(core, actor, as, file.config, url);
  return as;
}

/** The last segment of a URL's path, decoded ("" when there is none). */
function lastSegment(url: string): string {
  const seg =
    url
      .replace(/[?#].*$/, '')
      .split('/')
      .pop() ?? '';
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

const SECTIONS: readonly ConfigSection[] = ['system', 'users', 'crypto', 'snmp'];

/**
 * `configuration switch-to <name>`: the file becomes the active one, which
 * is the saved configuration and, at once, the running configuration (the
 * framework applies it); the file that was active is kept under its name.
 * EMULATION: settings that wait for a reload (the crypto mode) still wait;
 * switching to the active file reloads it into the running configuration.
 */
export const switchToConfigFile = stored({
  role: 'admin',
  apply: ({ draft, core }, name: string) => {
    const old = activeConfigFile(draft);
    const config = structuredClone(fileNamed(draft, name));
    if (name !== old) {
      const files = (draft.configFiles ??= {});
      files[old] = { config: draft.config, storedAtMs: core.clock.now() };
      delete files[name];
    }
    draft.config = config;
    if (name === INITIAL_CONFIG_FILE) delete draft.activeConfigFile;
    else draft.activeConfigFile = name;
  },
  audit: ([name]) => `configuration switch-to ${name}`,
  after: (core) => {
    core.running = structuredClone(core.doc.config);
    for (const s of SECTIONS) core.configChanged(s);
  },
});

/** `configuration delete <name>`: drop a kept file (never the active one). */
export const deleteConfigFile = stored({
  role: 'admin',
  apply: ({ draft }, name: string) => {
    if (name === activeConfigFile(draft))
      throw new DeviceError(
        'in-use',
        `"${name}" is the active configuration file; switch to another one first (configuration switch-to <name>).`,
      );
    fileNamed(draft, name);
    delete draft.configFiles![name];
  },
  audit: ([name]) => `configuration delete ${name}`,
});
