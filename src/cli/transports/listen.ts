/**
 * What the SSH and TCP CLI servers share: their options, bounds, and
 * listening with an error that names the address and port.
 */
import type { Cluster } from '../../device/cluster.js';
import { Logins } from '../../device/login.js';
import { LoginThrottle } from '../../lib/login-throttle.js';
import type { Logger } from '../../lib/logger.js';
import type { Listeners } from '../../lib/net.js';

/** What a CLI server of one box is built from (the host's composition root passes these). */
export interface CliServerOptions {
  address: string;
  /** 0 picks a free port; listen() returns the bound one. */
  port: number;
  cluster: Cluster;
  /** The box this server belongs to: logins are checked against it and sessions start on it. */
  boxId: number;
  logger: Logger;
  /** Sessions at once on this server, at most (default MAX_SESSIONS_PER_BOX). */
  maxSessions?: number;
  /**
   * The box's logins (device/login.ts), with the failed logins per source
   * and lockouts shared with the box's other transports (the host passes
   * one per box). Default: one for this server alone, on the box's clock.
   */
  logins?: Logins;
  /**
   * A connection must log in within this time from its accept, whatever it
   * sends or does not send (default LOGIN_TIMEOUT_MS); then its socket is
   * destroyed and its slot freed.
   */
  loginTimeoutMs?: number;
  /** Who holds the listening socket: this process (default) or a lab's listener processes. */
  listeners?: Listeners;
}

/** The logins a server uses: the ones given, else its own on the box's clock (the box must be in the cluster). */
export function loginsOf(o: CliServerOptions): Logins {
  if (o.logins) return o.logins;
  const clock = o.cluster.get(o.boxId).clock;
  return new Logins({
    throttle: new LoginThrottle({ clock }),
    box: () => o.cluster.get(o.boxId),
    clock,
  });
}

/** EMULATION: default bound of CLI sessions per box and transport; login timeout and attempts below. */
export const MAX_SESSIONS_PER_BOX = 100;
/**
 * A connection must log in within this time from its accept (before and
 * after the SSH identification string alike; OpenSSH's LoginGraceTime).
 */
export const LOGIN_TIMEOUT_MS = 60_000;
/** Wrong passwords before the connection is closed (the per-source lockout is lib/login-throttle.ts). */
export const MAX_LOGIN_ATTEMPTS = 3;

/** The refusal a client gets when the box has too many sessions. */
export function tooManySessions(boxId: number, max: number): string {
  return `% Too many CLI sessions on box ${boxId} (at most ${max}); close one and try again.`;
}
