import type { Logger } from "../log/index.ts";
import type { ActorView } from "./actor-view.ts";
import type { RouteActivity, RouterBackend } from "./backend.ts";
import type { Route } from "./route-cache.ts";

/** The most routes one report carries (the control plane takes up to 20 000). */
const maxReported = 10_000;

/**
 * What the control plane is told of the routes (least recently used first): those to running
 * actors and those with requests under way or waiting (not names merely being looked up), the
 * most recently used first, up to `maxReported`.
 */
export function routeActivity(routes: Route[], view: ActorView): RouteActivity[] {
  const now = Date.now();
  return routes
    .filter((r) => r.target || r.inflight > 0 || r.longLived > 0 || r.queued)
    .reverse()
    .slice(0, maxReported)
    .map((r) => ({
      atespace: r.atespace,
      actor: r.actor,
      // Once drained, nothing more goes to the actor until its checkpoint is over.
      inFlight: r.draining?.over ? 0 : r.inflight + r.longLived,
      ...(r.lastActive ? { idleMs: now - r.lastActive } : {}),
      // What it forwards by without asking; while the watch is not live it asks first.
      version: view.isLive ? Math.max(view.version(r.key), r.version) : 0,
      waiting: r.queued ? r.pending : 0,
    }));
}

/**
 * Sends the router's activity to the control plane every `intervalMs`, and at once when asked
 * (`soon`: requests started waiting for a worker, an actor it routes to is being checkpointed,
 * a drain finished) — one report in flight at a time, the next one coalescing what came
 * meanwhile. Each report replaces the router's previous one there.
 */
export class ActivityReporter {
  private sequence = 0;
  private wake = () => {};
  private again = false;

  constructor(
    private readonly backend: RouterBackend,
    private readonly routerId: string,
    private readonly snapshot: () => RouteActivity[],
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  /** Reports until the signal aborts; resolves once the last report is over. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.again = false;
      await this.send(this.snapshot(), signal);
      if (this.again || signal.aborted) continue;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          this.wake = () => {
            this.again = true;
          };
          resolve();
        };
        const timer = setTimeout(done, this.intervalMs);
        this.wake = done;
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  /** A report now (or right after the one under way). */
  soon(): void {
    this.again = true;
    this.wake();
  }

  /** The last report: this router forwards nothing any more (at most `ms` spent on it). */
  async farewell(ms = 1000): Promise<void> {
    await this.send([], AbortSignal.timeout(ms), true);
  }

  private async send(actors: RouteActivity[], signal: AbortSignal, final = false): Promise<void> {
    try {
      await this.backend.reportActivity(
        {
          routerId: this.routerId,
          sequence: ++this.sequence,
          actors,
          ...(final ? { final } : {}),
        },
        signal,
      );
    } catch (err) {
      if (!signal.aborted)
        this.log.warn("reporting activity failed", { error: (err as Error).message });
    }
  }
}
