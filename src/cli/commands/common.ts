import type { Box } from '../../device/box.js';
import { BOX_ID_MAX, BOX_ID_MIN } from '../../device/limits.js';
import { ANY_MODE, type CommandOutput, type CommandSpec, type NameSource } from '../tree.js';

/**
 * Pieces shared by the command entries: the `box-id` option (cluster
 * contract) and the help of words that many entries share.
 */

/**
 * The `box-id <id>` option. The session resolves it with cluster.get(id) when
 * the command runs (CommandContext.target), never before: a reload replaces
 * the Box object.
 */
// The range is the device's (device/limits.ts); the cluster says which exist.
export const BOX_ID = `box-id <box-id:int:${BOX_ID_MIN}-${BOX_ID_MAX}>`;

/** Help of keywords and parameters that several entries share. */
export const COMMON_HELP: Readonly<Record<string, string>> = {
  show: 'Display information',
  no: 'Remove a setting or turn it off',
  crypto: 'Certificates, ACME and the crypto mode',
  certificate: 'Certificates of the box',
  ip: 'IP settings: name servers, domain list',
  'snmp-server': 'SNMP notifications',
  web: 'The HTTPS management server',
  https: 'The HTTPS server',
  image: 'Firmware images',
  username: 'Users who may log in',
  '<user>': 'User name (1-64 letters, digits, dot, dash, underscore or @)',
  'box-id': 'Target another box of the cluster',
  '<box-id>': 'Box ID in the cluster (see "show chassis")',
  acme: 'Certificates from an ACME CA (RFC 8555)',
  domain: 'The domain the ACME certificate is for',
  '<domain>': 'One host name (FQDN) or IP address',
  name: 'A certificate by name',
  '<name>': 'Certificate name (1-64 letters, digits, dot, dash, underscore or @)',
  snmp: 'SNMP settings and counters',
};

/** The existing names Tab and `?` offer for the parameters that name a thing of the box. */
export const NAMES = {
  certificate: (box: Box) => box.certificateNames(),
  user: (box: Box) => box.users().map((u) => u.name),
  snmpHost: (box: Box) => box.config.snmp.targets.map((t) => t.host),
  snmpUser: (box: Box) => box.config.snmp.users.map((u) => u.name),
  configFile: (box: Box) => box.configFiles().map((f) => f.name),
} as const satisfies Record<string, NameSource>;

/**
 * A `show <words> [box-id <id>]` entry: in every mode, for monitor and up,
 * printing `render` of the box it targets (this box, or the one box-id names).
 */
export function showOfBox(
  words: string,
  help: Readonly<Record<string, string>>,
  render: (box: Box) => CommandOutput,
): CommandSpec {
  return {
    syntax: `show ${words} [${BOX_ID}]`,
    modes: ANY_MODE,
    role: 'monitor',
    help,
    run: (ctx, a) => render(ctx.target(a)),
  };
}
