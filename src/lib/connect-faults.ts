/**
 * Faults on one box's path to its ACME server, set by whoever runs the box
 * (the lab) and read by the box's own ACME transport at each request: no
 * proxy in the path, nothing extra when off (three field reads per request),
 * and they work with any CA, external ones included.
 *
 * - refuse (acme-unreachable): every request fails as a reset connection
 *   (ECONNRESET) before any byte is sent, and turning it on cuts the open
 *   keep-alive connections; `refused` counts the requests turned away.
 * - delayMs (acme-slow): each response is held back delayMs before it is
 *   read; the request's own deadline still runs, so a delay past the
 *   request timeout makes the box's timeout failure; `delayed` counts the
 *   responses held back.
 * - drop (acme-drop): the path swallows packets, as a firewall that drops
 *   instead of rejecting: a new request sends nothing and fails at its
 *   deadline as a timeout (ETIMEDOUT), never as a reset; an answer still on
 *   its way on an open connection is lost the same way. `dropped` counts
 *   the requests and answers lost. A dropped request holds no place in the
 *   shared gate to the CA (it never reaches the network).
 *
 * Counters only grow; they survive turning a fault off and on. One object
 * per box outlives the box object (reload, stop/start): the lab keeps it.
 */
export class ConnectFaults {
  private refuseOn = false;
  private delay = 0;
  private dropOn = false;
  private readonly cutters = new Set<() => void>();
  /** How often each fault took effect. */
  readonly counters = { refused: 0, delayed: 0, dropped: 0 };

  /** True while every request is refused. */
  get refuse(): boolean {
    return this.refuseOn;
  }

  /** Refuse every request (and cut the open connections) or stop refusing. */
  setRefuse(on: boolean): void {
    this.refuseOn = on;
    if (on) for (const cut of [...this.cutters]) cut();
  }

  /** True while requests and answers are dropped. */
  get drop(): boolean {
    return this.dropOn;
  }

  /** Drop every request and answer (each request then fails at its deadline) or stop dropping. */
  setDrop(on: boolean): void {
    this.dropOn = on;
  }

  /** Hold-back of each response, ms (0: off). */
  get delayMs(): number {
    return this.delay;
  }

  /** Set the hold-back of each response, ms >= 0 (0 turns it off). */
  setDelay(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError('a delay in ms >= 0');
    this.delay = ms;
  }

  /** A transport registers how to cut its open connections; the returned function unregisters it. */
  onCut(cut: () => void): () => void {
    this.cutters.add(cut);
    return () => this.cutters.delete(cut);
  }
}
