/**
 * Configuration files (CLI contract, "System"): backup and restore of the
 * saved configuration through local files, with the framework's commands
 * (`configuration upload|fetch|switch-to`, as QualiSystems' shell sends
 * them) and `show configuration files`. Admin only, except the listing.
 */
import type { Box } from '../../device/box.js';
import { ANY_MODE, CONFIG_ONLY, type CommandSpec } from '../tree.js';
import { BOX_ID, NAMES } from './common.js';

const HELP = {
  configuration: 'Configuration files: backup and restore',
  '<file>': 'A configuration file name (see "show configuration files")',
  '<url>': 'file:///<absolute path> (the simulator takes local files only)',
} as const;

/**
 * `show configuration files`, as the Onyx family prints it: one name a line,
 * `(active)` after the active one, then the active name and whether the
 * running configuration has unsaved changes.
 */
function renderFiles(box: Box): string[] {
  const files = box.configFiles();
  return [
    ...files.map((f) => (f.active ? `${f.name} (active)` : f.name)),
    '',
    `Active configuration: ${files[0]!.name}`,
    `Unsaved changes: ${box.hasUnsavedChanges ? 'yes' : 'no'}`,
  ];
}

/** The configuration file commands. */
export const CONFIGURATION_COMMANDS: readonly CommandSpec[] = [
  {
    // EMULATION: the framework's progress and success texts are not public; one line each here.
    syntax: 'configuration upload {active|<file>} <url>',
    values: { file: NAMES.configFile },
    modes: CONFIG_ONLY,
    role: 'admin',
    help: {
      ...HELP,
      upload: 'Copy a configuration file of the box to a URL',
      active: 'The active file: the saved configuration (unsaved changes are not in it)',
    },
    run: async (ctx, a) => {
      const which = a.has('active') ? 'active' : a.get('file');
      const path = await ctx.box().uploadConfigFile(ctx.actor, which, a.get('url'));
      return `Uploaded the ${which === 'active' ? 'active configuration' : `configuration file "${which}"`} to ${path} (mode 0600: it holds the users' password hashes and the SNMP secrets).`;
    },
  },
  {
    syntax: 'configuration fetch <url> [<file>]',
    values: { file: NAMES.configFile },
    modes: CONFIG_ONLY,
    role: 'admin',
    help: {
      ...HELP,
      fetch: 'Copy a configuration file from a URL to the box',
      '<file>': 'The name to keep it under (default: the last part of the URL)',
    },
    run: async (ctx, a) => {
      const name = await ctx.box().fetchConfigFile(ctx.actor, a.get('url'), a.opt('file'));
      return `Fetched configuration file "${name}"; make it active with "configuration switch-to ${name}".`;
    },
  },
  {
    syntax: 'configuration switch-to <file>',
    values: { file: NAMES.configFile },
    modes: CONFIG_ONLY,
    role: 'admin',
    help: {
      ...HELP,
      'switch-to':
        'Make a configuration file the active one: it becomes the saved and the running configuration',
    },
    run: async (ctx, a) => {
      const box = ctx.box();
      const name = a.get('file');
      const unsaved = box.hasUnsavedChanges;
      await box.switchToConfigFile(ctx.actor, name);
      const after = ctx.box();
      return [
        ...(unsaved ? ['Warning: the unsaved changes of the running configuration were replaced.'] : []),
        `Switched to configuration file "${name}": it is the saved and the running configuration.`,
        ...(after.config.cryptoMode !== after.activeCryptoMode
          ? [`Crypto mode ${after.config.cryptoMode} takes effect after "reload".`]
          : []),
      ];
    },
  },
  {
    syntax: 'configuration delete <file>',
    values: { file: NAMES.configFile },
    modes: CONFIG_ONLY,
    role: 'admin',
    help: { ...HELP, delete: 'Delete a configuration file that is not the active one' },
    run: (ctx, a) => ctx.box().deleteConfigFile(ctx.actor, a.get('file')),
  },
  {
    syntax: `show configuration files [${BOX_ID}]`,
    modes: ANY_MODE,
    role: 'monitor',
    help: {
      configuration: 'Configuration files',
      files: 'The configuration files of the box, the active one marked',
    },
    run: (ctx, a) => renderFiles(ctx.target(a)),
  },
];
