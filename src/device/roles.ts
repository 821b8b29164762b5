/**
 * Users' roles (CLI contract, "Users and roles"): admin does everything,
 * operator all modes but no user management, monitor standard and enable
 * modes only, read-only.
 */
import { DeviceError } from './errors.js';

export type Role = 'admin' | 'operator' | 'monitor';
export const ROLES: readonly Role[] = ['admin', 'operator', 'monitor'];

const RANK: Record<Role, number> = { monitor: 1, operator: 2, admin: 3 };

/** Who asks: every device operation takes one, so the CLI and the REST API check roles the same way. */
export interface Actor {
  user: string;
  role: Role;
  /** Where the request came from, for the audit log (e.g. "ssh 127.0.0.1:51234"). */
  source: string;
}

/** True when `role` is at least `needed`. */
export function roleAllows(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

/** Throw `% Permission denied.` unless the actor's role is at least `needed`. */
export function requireRole(actor: Actor, needed: Role): void {
  if (!roleAllows(actor.role, needed)) throw new DeviceError('permission-denied', 'Permission denied.');
}
