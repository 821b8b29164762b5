/**
 * A typed event emitter: `EventMap` maps each event name to its payload. A
 * listener that throws is reported to `onListenerError` and never stops the
 * other listeners or the emitter (a broken SNMP target must not break ACME).
 */
export class TypedEmitter<EventMap extends object> {
  private readonly listeners = new Map<keyof EventMap, Set<(p: never) => void>>();

  constructor(private readonly onListenerError: (err: unknown, event: string) => void = () => {}) {}

  /** Subscribe; returns the function that unsubscribes. */
  on<K extends keyof EventMap>(event: K, fn: (payload: EventMap[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn as (p: never) => void);
    return () => set.delete(fn as (p: never) => void);
  }

  emit<K extends keyof EventMap>(event: K, payload: EventMap[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as (p: EventMap[K]) => void)(payload);
      } catch (err) {
        this.onListenerError(err, String(event));
      }
    }
  }

  /** Drop every listener (box shutdown). */
  clear(): void {
    this.listeners.clear();
  }
}
