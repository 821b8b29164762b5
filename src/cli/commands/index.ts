/**
 * Every command of the CLI, and the command trees built from them once for
 * the whole process (immutable, shared by every session of every box).
 */
import { buildTrees, PRIVILEGED, type CommandSpec, type ModeTrees } from '../tree.js';
import { ACME_COMMANDS } from './acme.js';
import { CERTIFICATE_COMMANDS } from './certificates.js';
import { CONFIGURATION_COMMANDS } from './configuration.js';
import { BOX_ID, COMMON_HELP } from './common.js';
import { FIRMWARE_COMMANDS } from './firmware.js';
import { MODE_COMMANDS } from './modes.js';
import { renderRunningConfig } from './running-config.js';
import { SNMP_COMMANDS } from './snmp.js';
import { SYSTEM_COMMANDS } from './system.js';
import { USER_COMMANDS } from './users.js';

const CONFIG_COMMANDS: readonly CommandSpec[] = [
  ...MODE_COMMANDS,
  ...SYSTEM_COMMANDS,
  ...CONFIGURATION_COMMANDS,
  ...USER_COMMANDS,
  ...FIRMWARE_COMMANDS,
  ...CERTIFICATE_COMMANDS,
  ...ACME_COMMANDS,
  ...SNMP_COMMANDS,
];

const SHOW_RUNNING_CONFIG: CommandSpec = {
  // EMULATION: enable and config mode only (as in the Onyx family); every role may read it, secrets masked.
  syntax: `show running-config [full] [${BOX_ID}]`,
  modes: PRIVILEGED,
  role: 'monitor',
  help: {
    'running-config': 'The running configuration (secrets masked)',
    full: 'Include the settings at their defaults',
  },
  run: (ctx, a) => renderRunningConfig(ctx.target(a), CONFIG_COMMANDS, a.has('full')),
};

/** Every command entry, in running-config order. */
export const ALL_COMMANDS: readonly CommandSpec[] = [...CONFIG_COMMANDS, SHOW_RUNNING_CONFIG];

/** The command tree of each mode. */
export const COMMAND_TREES: ModeTrees = buildTrees(ALL_COMMANDS, COMMON_HELP);
