/**
 * Whether a lab's boxes fit in this process's open-files limit, and where
 * their listening sockets go: said at start instead of failing obscurely
 * (EMFILE) half way through the boot.
 *
 * A box holds four TCP listeners (SSH, CLI, HTTPS, HTTP), the SNMP agent's
 * UDP socket and, while it talks to its CA, an ACME connection. Its trap
 * targets hold a UDP socket only while a notification is out
 * (src/snmp/net-snmp-sender.ts): FDS_NOTIFICATIONS, not per box. While all of that fits in
 * this process the boxes listen themselves; above, the TCP listeners move to
 * listener processes (src/host/listener-pool.ts), each under its own
 * open-files limit, and this process keeps the UDP sockets and the
 * connections.
 */
import { readFileSync } from 'node:fs';

/** TCP listening sockets per box (SSH, CLI, HTTPS, HTTP). */
const TCP_LISTENERS_PER_BOX = 4;
/** What the process holds besides the boxes (peers' pipes, logs, the control plane, state writes). */
export const FDS_BASE = 200;
/**
 * Connections at once that are not a box's own (listener-processes mode):
 * CLI and web sessions, ACME requests in flight and idle for a few seconds
 * after (src/acme/transport.ts), the CA's http-01 validations.
 */
export const FDS_CONNECTIONS = 1000;
/**
 * Notification sockets open at once: a target's socket lives from a send to
 * its end (a trap: milliseconds; an inform: up to its timeout), and boxes
 * send when something happens to them, which the lab paces (16 ACME
 * requests in flight per CA).
 */
export const FDS_NOTIFICATIONS = 500;
/**
 * What a listener process holds besides its listeners: Node itself and its
 * IPC channel (100), and the connections it has accepted and not yet handed
 * over (1000). An accepted socket stays open here until the lab's process
 * has taken it, which a busy lab does late; with room for only 80 of them,
 * a 10,000-box lab's first certificates failed by the thousand (the CA's
 * http-01 requests reset or closed unanswered: libuv closes what it cannot
 * accept at the open-files limit).
 */
export const LISTENER_PROCESS_BASE = 1100;

/**
 * Listener processes a lab that needs them spreads its listeners over, at
 * least (each given at least MIN_LISTENERS_PER_PROCESS). Each listener
 * process hands its accepted connections to the lab over its own IPC
 * channel, and Node sends a channel's sockets one at a time: the next waits
 * until the lab's event loop has taken the last and acknowledged it
 * (child_process's handle queue). So while the lab is busy issuing, the
 * channels are its rate of taking new connections (Pebble's http-01
 * fetches, every client): bench/listener-handoff.ts, 1000 connections to a
 * lab whose loop is busy 8 ms per turn, 14.4 s through one channel, 6.5 s
 * through three, 3.5 s through eight. A listener process costs about 44
 * MiB of its own.
 */
export const HANDOFF_CHANNELS = 8;
const MIN_LISTENERS_PER_PROCESS = 1000;

/** Where a lab's TCP listening sockets live, and how many listener processes that takes. */
export interface ListenerPlan {
  where: 'in-process' | 'listener-processes';
  /** Listener processes to hold them (0 in-process). */
  processes: number;
  /** Listeners per listener process, at most. */
  perProcess: number;
  /** One line for the log and `lab up`: the limit met and what the lab needs. */
  line: string;
}

/** The soft open-files limit of this process (/proc/self/limits), or undefined where it cannot be read. */
export function openFilesLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Open files one box needs when it holds its own listeners: 4 TCP listeners, the agent, an ACME connection. */
const PER_BOX_IN_PROCESS = TCP_LISTENERS_PER_BOX + 1 + 1;

/**
 * Where `boxes` boxes listen under `limit` (null: unknown, assumed to fit in
 * this process), or a problem: one line naming the limit they exceed, what
 * they need and how many boxes fit. Pure.
 */
export function planListeners(
  boxes: number,
  limit: number | null = openFilesLimit() ?? null,
): { plan: ListenerPlan } | { problem: string } {
  const inProcessNeed = FDS_BASE + FDS_NOTIFICATIONS + boxes * PER_BOX_IN_PROCESS;
  if (limit === null || inProcessNeed <= limit) {
    return {
      plan: {
        where: 'in-process',
        processes: 0,
        perProcess: 0,
        line:
          limit === null
            ? `${boxes} boxes listen in this process (open-files limit unknown)`
            : `${boxes} boxes need about ${inProcessNeed} open files of this process's ${limit}: they listen in this process`,
      },
    };
  }
  // This process keeps the agents' UDP sockets, the notification sockets and the connections.
  const shared = FDS_BASE + FDS_CONNECTIONS + FDS_NOTIFICATIONS;
  const mainNeed = shared + boxes;
  const mostPerProcess = limit - LISTENER_PROCESS_BASE;
  const listeners = boxes * TCP_LISTENERS_PER_BOX;
  if (mainNeed <= limit && mostPerProcess > 0) {
    const processes = Math.max(
      Math.ceil(listeners / mostPerProcess),
      Math.min(HANDOFF_CHANNELS, Math.ceil(listeners / MIN_LISTENERS_PER_PROCESS)),
    );
    const perProcess = Math.ceil(listeners / processes);
    return {
      plan: {
        where: 'listener-processes',
        processes,
        perProcess,
        line:
          `${boxes} boxes would need about ${inProcessNeed} open files in one process, over its limit of ${limit} (ulimit -n): ` +
          `their ${listeners} TCP listeners go to ${processes} listener process${processes === 1 ? '' : 'es'} ` +
          `(${perProcess} each, up to ${mostPerProcess} would fit: spread over up to ${HANDOFF_CHANNELS} so that ` +
          `accepted connections reach this process over as many channels), this process keeps about ${mainNeed}`,
      },
    };
  }
  const fit = Math.max(0, limit - shared);
  return {
    problem:
      `${boxes} boxes need about ${mainNeed} open files in the lab's process even with their TCP listeners in listener processes ` +
      `(the SNMP agent's UDP socket per box, plus ${shared} for peers, connections and notifications) ` +
      `but this process may open ${limit} (ulimit -n); ` +
      `at most ${fit} boxes fit: raise the limit (ulimit -n ${mainNeed}, or the container's nofile) or run fewer boxes`,
  };
}
