import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { latencyBuckets, Registry as NewRegistry } from "../metrics/index.ts";

/**
 * The router's metrics (prom-client, in the router's own registry: several routers in one
 * process never collide): requests by outcome, activation latency, queue depth, routes and
 * whether the actor watch is live.
 */
export class RouterMetrics {
  readonly registry: Registry;
  private readonly requests: Counter<"outcome">;
  private readonly activations: Histogram;
  private readonly depth: Gauge;
  private readonly live: Gauge;
  private watchOn = false;

  /** `routes` reads how many routes are cached now. */
  constructor(routes: () => number = () => 0, registry: Registry = new NewRegistry()) {
    this.registry = registry;
    const registers = [registry];
    this.requests = new Counter({
      name: "ate_router_requests_total",
      help: "Requests by outcome.",
      labelNames: ["outcome"],
      registers,
    });
    this.activations = new Histogram({
      name: "ate_router_activation_seconds",
      help: "Activations: time from the first request waiting for a suspended or paused actor to its forward (resume and readiness included).",
      buckets: latencyBuckets,
      registers,
    });
    this.depth = new Gauge({
      name: "ate_router_queue_depth",
      help: "Requests waiting for a free worker.",
      registers,
    });
    new Gauge({
      name: "ate_router_routes",
      help: "Routes cached now.",
      registers,
      collect() {
        this.set(routes());
      },
    });
    this.live = new Gauge({
      name: "ate_router_watch_live",
      help: "1 while the actor watch is live; 0: every request asks the control plane.",
      registers,
    });
    this.live.set(0);
  }

  /** Whether the actor watch is live (routes trusted) or reconnecting (each request asks). */
  get watchLive(): boolean {
    return this.watchOn;
  }

  set watchLive(on: boolean) {
    this.watchOn = on;
    this.live.set(on ? 1 : 0);
  }

  set queueDepth(n: number) {
    this.depth.set(n);
  }

  request(outcome: string): void {
    this.requests.inc({ outcome });
  }

  /** Time from the first waiting request to the forward. */
  resumed(seconds: number): void {
    this.activations.observe(seconds);
  }

  /** The exposition (text format 0.0.4). */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
