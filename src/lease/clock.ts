import { setTimeout as delay } from "node:timers/promises";

/**
 * Time as a lease sees it: a monotonic count of milliseconds (never wall-clock time, which
 * jumps) and a sleep that ends early when the signal aborts. Tests pass a manual one.
 */
export interface LeaseClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const monotonicClock: LeaseClock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    signal?.aborted
      ? Promise.resolve()
      : delay(Math.max(0, ms), undefined, signal ? { signal } : {}).catch(() => {}),
};
