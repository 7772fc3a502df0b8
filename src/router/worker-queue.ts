/**
 * Requests waiting for a free worker: each waits until woken (an actor left its worker, so a
 * worker may be free: the first waiter tries again) or a while passes (it tries anyway).
 */
export class WorkerQueue {
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly onDepth: (n: number) => void = () => {}) {}

  get size(): number {
    return this.waiters.length;
  }

  /** True when woken because a worker may be free; false after `ms` (at most `pollMs`). */
  wait(ms: number, pollMs = 1000): Promise<boolean> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(
        () => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          this.onDepth(this.waiters.length);
          resolve(false);
        },
        Math.min(ms, pollMs),
      );
      this.waiters.push(wake);
      this.onDepth(this.waiters.length);
    });
  }

  /** A worker may be free: the longest waiter tries again. */
  wakeOne(): void {
    this.waiters.shift()?.();
    this.onDepth(this.waiters.length);
  }
}
