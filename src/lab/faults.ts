/**
 * Fault injection per box, counted and visible (issue 5, control plane).
 * Every fault works from the lab's side, through what the lab owns (the
 * ConnectFaults of each box, which the box's ACME transport reads at each
 * request) or through the box's own command layer and challenge registry;
 * nothing in device/ or snmp/ knows about it.
 *
 * | fault            | what it does                                          | counter                                   |
 * |------------------|-------------------------------------------------------|-------------------------------------------|
 * | acme-unreachable | the box's ACME transport fails every request as reset | requests refused                          |
 * | acme-slow        | the box's ACME transport holds back each CA answer `delayMs` | CA answers held back               |
 * | acme-drop        | the box's path to the CA drops packets: requests time out, never reset | requests and answers lost |
 * | challenge-wrong  | the box answers http-01 with a wrong key authorization (and tls-alpn-01 with no certificate); an authorization the CA reuses is deactivated and the order placed again, so a challenge is always asked | wrong answers served |
 * | snmp-muted       | the box's SNMP hosts are removed (running config)     | notification events the box could not send|
 *
 * A fault stays on across reload, stop/start and kill/start of the box: the
 * lab re-applies it to each new box object (see {@link FaultBoard.onBoxUp}).
 */
import type { Box } from '../device/box.js';
import type { DeviceEvents } from '../device/events.js';
import type { SnmpTarget } from '../device/model.js';
import type { Actor } from '../device/roles.js';
import type { ConnectFaults } from '../lib/connect-faults.js';

/** The faults the lab can inject, as the control plane and `gvos-sim lab fault` name them. */
export const FAULT_NAMES = [
  'acme-unreachable',
  'acme-slow',
  'acme-drop',
  'challenge-wrong',
  'snmp-muted',
] as const;
/** One of FAULT_NAMES. */
export type FaultName = (typeof FAULT_NAMES)[number];

/** The lab's own actor for device operations (audit log: "lab"). */
export const LAB_ACTOR: Actor = { user: 'lab', role: 'admin', source: 'lab' };

/** Default hold-back of acme-slow, ms. */
const DEFAULT_SLOW_MS = 2_000;

/** One fault of one box as the control plane shows it. */
export interface FaultState {
  boxId: number;
  fault: FaultName;
  on: boolean;
  /** How often the fault took effect (see the table above); only grows. */
  count: number;
  /** acme-slow only. */
  delayMs?: number;
}

/** The device events that make a notification (snmp/ traps them). */
const NOTIFYING_EVENTS: (keyof DeviceEvents)[] = [
  'certificate-issued',
  'certificate-renewed',
  'certificate-renewal-failed',
  'certificate-revoked',
  'certificate-cleared',
  'certificate-expiring-soon',
  'booted',
];

interface BoxFaults {
  wrongChallenge: boolean;
  wrongAnswers: number;
  muted: boolean;
  mutedTargets: SnmpTarget[];
  suppressed: number;
  /** Undo the subscriptions made on the current box object. */
  offBox: (() => void)[];
}

/**
 * The faults of every box of a lab. Not reentrant per box (the control
 * plane serialises requests); counters only grow.
 */
export class FaultBoard {
  private readonly boxes = new Map<number, BoxFaults>();

  /**
   * `connectFaultsOf` gives the faults of a box's path to its CA (any CA,
   * external ones too); `boxOf` the running box object, if any.
   */
  constructor(
    private readonly connectFaultsOf: (boxId: number) => ConnectFaults,
    private readonly boxOf: (boxId: number) => Box | undefined,
  ) {}

  private state(boxId: number): BoxFaults {
    let s = this.boxes.get(boxId);
    if (!s) {
      s = {
        wrongChallenge: false,
        wrongAnswers: 0,
        muted: false,
        mutedTargets: [],
        suppressed: 0,
        offBox: [],
      };
      this.boxes.set(boxId, s);
    }
    return s;
  }

  /** Call for each new box object (boot, start, reload): re-applies the box's faults to it. */
  onBoxUp(box: Box): void {
    const s = this.state(box.boxId);
    for (const off of s.offBox.splice(0)) off();
    for (const ev of NOTIFYING_EVENTS) {
      s.offBox.push(
        box.events.on(ev, () => {
          if (s.muted) s.suppressed++;
        }),
      );
    }
    if (s.wrongChallenge) this.patchChallenges(box, s);
    if (s.muted) this.removeTargets(box, s);
  }

  /** Forget a removed box. */
  forget(boxId: number): void {
    const s = this.boxes.get(boxId);
    for (const off of s?.offBox ?? []) off();
    this.boxes.delete(boxId);
  }

  /**
   * Turn `fault` on or off for one box.
   */
  set(boxId: number, fault: FaultName, on: boolean, delayMs = DEFAULT_SLOW_MS): void {
    const s = this.state(boxId);
    const box = this.boxOf(boxId);
    switch (fault) {
      case 'acme-unreachable':
      case 'acme-slow':
      case 'acme-drop': {
        const f = this.connectFaultsOf(boxId);
        if (fault === 'acme-unreachable') f.setRefuse(on);
        else if (fault === 'acme-drop') f.setDrop(on);
        else f.setDelay(on ? delayMs : 0);
        return;
      }
      case 'challenge-wrong':
        s.wrongChallenge = on;
        if (box) {
          if (on) this.patchChallenges(box, s);
          else unpatchChallenges(box);
        }
        return;
      case 'snmp-muted':
        if (on === s.muted) return;
        if (on) {
          s.muted = true;
          if (box) this.removeTargets(box, s);
        } else {
          s.muted = false;
          if (box) for (const t of s.mutedTargets) box.snmpSetTarget(LAB_ACTOR, t);
          s.mutedTargets = [];
        }
        return;
    }
  }

  /** Every fault of these boxes with its state and counter. */
  list(boxIds: number[]): FaultState[] {
    const out: FaultState[] = [];
    for (const boxId of boxIds) {
      const s = this.state(boxId);
      const p = this.connectFaultsOf(boxId);
      out.push(
        { boxId, fault: 'acme-unreachable', on: p.refuse, count: p.counters.refused },
        {
          boxId,
          fault: 'acme-slow',
          on: p.delayMs > 0,
          count: p.counters.delayed,
          delayMs: p.delayMs,
        },
        { boxId, fault: 'acme-drop', on: p.drop, count: p.counters.dropped },
        { boxId, fault: 'challenge-wrong', on: s.wrongChallenge, count: s.wrongAnswers },
        { boxId, fault: 'snmp-muted', on: s.muted, count: s.suppressed },
      );
    }
    return out;
  }

  private patchChallenges(box: Box, s: BoxFaults): void {
    const registry = box.challenges;
    // A CA that reuses a valid authorization asks no challenge: the box must be asked one for the fault to bite.
    registry.revalidate = true;
    const real = (Object.getPrototypeOf(registry) as typeof registry).get.bind(registry);
    // An own property shadows the prototype's get() on this object only; the web serves what it returns.
    registry.get = (token: string) => {
      const right = real(token);
      if (right === undefined) return undefined;
      s.wrongAnswers++;
      return `${right.split('.')[0]}.wrong-answer-injected-by-the-lab`;
    };
    // tls-alpn-01 too, so the agent cannot get around the fault: no certificate for acme-tls/1 handshakes.
    registry.getAlpnCertificate = (servername: string | undefined) => {
      s.wrongAnswers++;
      void servername;
      return undefined;
    };
  }

  private removeTargets(box: Box, s: BoxFaults): void {
    const targets = box.config.snmp.targets;
    for (const t of targets) {
      if (!s.mutedTargets.some((m) => m.host === t.host && m.port === t.port && m.kind === t.kind))
        s.mutedTargets.push({ ...t });
      box.snmpRemoveTarget(LAB_ACTOR, t.host, t.port);
    }
  }
}

function unpatchChallenges(box: Box): void {
  box.challenges.revalidate = false;
  delete (box.challenges as { get?: unknown }).get;
  delete (box.challenges as { getAlpnCertificate?: unknown }).getAlpnCertificate;
}
