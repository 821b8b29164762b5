/**
 * Retry schedules. A schedule is a pure function from the attempt number
 * (1 = first retry) to the delay before it, so it can be table-tested.
 */
export interface BackoffOptions {
  /** Delay before the first retry. */
  initialMs: number;
  /** Upper bound for any delay. */
  maxMs: number;
  /** Growth per attempt (2 doubles). */
  factor: number;
}

/** Delay before retry number `attempt` (1-based): initial * factor^(attempt-1), capped at max. */
export function backoffDelay(attempt: number, o: BackoffOptions): number {
  if (attempt < 1) return 0;
  const d = o.initialMs * Math.pow(o.factor, attempt - 1);
  return Math.min(o.maxMs, Math.round(d));
}
