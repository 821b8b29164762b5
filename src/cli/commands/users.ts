/**
 * User management (CLI contract, "Users and roles"): admin only. Password
 * hashes never leave the box; the running config shows the password masked.
 */
import { ROLES } from '../../device/roles.js';
import { MASK } from '../format.js';
import { CONFIG_ONLY, type CommandSpec } from '../tree.js';
import { NAMES } from './common.js';

/** User commands (admin only); the password entry renders the users of the running config. */
export const USER_COMMANDS: readonly CommandSpec[] = [
  {
    syntax: 'username <user> password <password>',
    values: { user: NAMES.user },
    modes: CONFIG_ONLY,
    role: 'admin',
    help: {
      password: 'Set the password (a new user gets the monitor capability)',
      '<password>': 'The password (quote it if it has blanks)',
    },
    run: (ctx, a) => ctx.box().setUserPassword(ctx.actor, a.get('user'), a.get('password')),
    section: 'Users',
    render: (box) =>
      box
        .users()
        .sort((x, y) => x.name.localeCompare(y.name))
        .flatMap((u) => [`username ${u.name} password ${MASK}`, `username ${u.name} capability ${u.role}`]),
  },
  {
    syntax: `username <user> capability {${ROLES.join('|')}}`,
    values: { user: NAMES.user },
    modes: CONFIG_ONLY,
    role: 'admin',
    help: {
      capability: 'Set what the user may do',
      admin: 'Everything',
      operator: 'All modes, no user management',
      monitor: 'Standard and enable mode, read-only',
    },
    run: (ctx, a) => ctx.box().setUserCapability(ctx.actor, a.get('user'), a.which(ROLES)!),
  },
  {
    syntax: 'no username <user>',
    values: { user: NAMES.user },
    modes: CONFIG_ONLY,
    role: 'admin',
    help: { username: 'Delete a user' },
    run: (ctx, a) => ctx.box().removeUser(ctx.actor, a.get('user')),
  },
];
