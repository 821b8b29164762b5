/**
 * Users and roles (CLI contract, "Users and roles"): admin manages users;
 * the last admin can be neither demoted nor deleted; nobody deletes the
 * user they are logged in as. Running-config settings.
 */
import { createHash } from 'node:crypto';
import { own, setting, type BoxCore } from './box-core.js';
import { DeviceError } from './errors.js';
import { MAX_USERS } from './limits.js';
import type { RunningConfig } from './model.js';
import { hashPassword, MAX_PASSWORD_LENGTH, UNKNOWN_USER_HASH, verifyPasswordAsync } from './passwords.js';
import type { Role } from './roles.js';
import { clip, validateName } from './validate.js';

/**
 * Check a login. Resolves the role, or null for an unknown user or a wrong
 * password. The hash runs off the main thread (libuv pool), so a burst of
 * logins does not stall the other boxes of the process.
 */
export async function authenticate(core: BoxCore, user: string, password: string): Promise<Role | null> {
  const rec = own(core.running.users, user);
  // Hash anyway for unknown users so timing does not reveal which names exist.
  const hash = rec?.passwordHash ?? UNKNOWN_USER_HASH;
  const ok = password.length > 0 && (await verifyPasswordAsync(password, hash));
  return ok && rec && rec.passwordHash ? rec.role : null;
}

/**
 * A short fingerprint of `user`'s current password record, or undefined
 * when the user does not exist. It changes whenever the password is set,
 * so what was verified against the old one (a remembered login, a REST
 * token) can tell it is stale. Reveals nothing about the password.
 */
export function credentialStamp(core: BoxCore, user: string): string | undefined {
  const rec = own(core.running.users, user);
  return rec?.passwordHash
    ? createHash('sha256').update(rec.passwordHash).digest('base64url').slice(0, 16)
    : undefined;
}

export const setUserPassword = setting({
  role: 'admin',
  section: 'users',
  apply: ({ draft }, user: string, password: string) => {
    validateName('user name', user);
    if (password.length === 0) throw new DeviceError('bad-input', 'Empty passwords are not allowed.');
    if (password.length > MAX_PASSWORD_LENGTH) {
      throw new DeviceError('bad-input', `Password too long: at most ${MAX_PASSWORD_LENGTH} characters.`);
    }
    const existing = own(draft.users, user);
    if (!existing && Object.keys(draft.users).length >= MAX_USERS) {
      throw new DeviceError('bad-input', `At most ${MAX_USERS} users.`);
    }
    // EMULATION: a new user is a monitor until given a capability (least privilege).
    draft.users[user] = { role: existing?.role ?? 'monitor', passwordHash: hashPassword(password) };
  },
  audit: ([user]) => `username ${user} password ********`,
});

export const setUserCapability = setting({
  role: 'admin',
  section: 'users',
  apply: ({ draft }, user: string, role: Role) => {
    const rec = own(draft.users, user);
    if (!rec)
      throw new DeviceError(
        'not-found',
        `User "${clip(user)}" does not exist; set a password first with "username ${clip(user)} password <p>".`,
      );
    if (rec.role === 'admin' && role !== 'admin' && adminCount(draft) === 1) {
      throw new DeviceError('in-use', 'Cannot demote the last admin user.');
    }
    rec.role = role;
  },
  audit: ([user, role]) => `username ${user} capability ${role}`,
});

export const removeUser = setting({
  role: 'admin',
  section: 'users',
  apply: ({ draft, actor }, user: string) => {
    const rec = own(draft.users, user);
    if (!rec) throw new DeviceError('not-found', `User "${clip(user)}" does not exist.`);
    if (user === actor.user) throw new DeviceError('in-use', 'Cannot delete the user you are logged in as.');
    if (rec.role === 'admin' && adminCount(draft) === 1)
      throw new DeviceError('in-use', 'Cannot delete the last admin user.');
    delete draft.users[user];
  },
  audit: ([user]) => `no username ${user}`,
});

/** User names and roles (no hashes). */
export function users(core: BoxCore): { name: string; role: Role }[] {
  return Object.entries(core.running.users).map(([name, r]) => ({ name, role: r.role }));
}

function adminCount(cfg: RunningConfig): number {
  return Object.values(cfg.users).filter((u) => u.role === 'admin').length;
}
