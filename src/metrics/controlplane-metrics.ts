import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { latencyBuckets, Registry as NewRegistry, timed } from "./registry.ts";

/** The lifecycle transitions the control plane counts (see src/controlplane/lifecycle.ts). */
export type TransitionKind = "resume" | "suspend" | "pause" | "freeze" | "stop";

/** Where the control plane's worker gauges come from at each scrape. */
export interface WorkerSource {
  listWorkers(): Promise<{ namespace: string; pool: string; actor?: unknown }[]>;
}

/**
 * The control plane's metrics: lifecycle transitions by kind and result with their latency,
 * workers free and assigned per pool (read from the records at each scrape, so every
 * control plane replica reports the same truth), and garbage collection's removals.
 */
export class ControlPlaneMetrics {
  readonly registry: Registry;
  private readonly transitions: Counter<"kind" | "result">;
  private readonly seconds: Histogram<"kind" | "result">;
  private readonly gcRemoved: Counter<"what">;
  private readonly gcRemovedBytes: Counter<"what">;
  private workers?: WorkerSource;

  constructor(registry: Registry = new NewRegistry()) {
    this.registry = registry;
    const registers = [registry];
    this.transitions = new Counter({
      name: "ate_actor_transitions_total",
      help: "Actor lifecycle transitions by kind (resume, suspend, pause, freeze, stop) and result (ok or the error code).",
      labelNames: ["kind", "result"],
      registers,
    });
    this.seconds = new Histogram({
      name: "ate_actor_transition_seconds",
      help: "Latency of actor lifecycle transitions as the control plane runs them (a resume includes the node's restore and readiness; a suspend its checkpoint and upload).",
      labelNames: ["kind", "result"],
      buckets: latencyBuckets,
      registers,
    });
    this.gcRemoved = new Counter({
      name: "ate_gc_removed_total",
      help: "Objects garbage collection removed, by what they were (snapshot, leftover, ...).",
      labelNames: ["what"],
      registers,
    });
    this.gcRemovedBytes = new Counter({
      name: "ate_gc_removed_bytes_total",
      help: "Bytes garbage collection removed, by what they were.",
      labelNames: ["what"],
      registers,
    });
    const self = this;
    new Gauge({
      name: "ate_workers",
      help: "Workers per pool by state (free, assigned), from the records at scrape time.",
      labelNames: ["namespace", "pool", "state"],
      registers,
      async collect() {
        this.reset();
        if (!self.workers) return;
        for (const w of await self.workers.listWorkers())
          this.inc({
            namespace: w.namespace,
            pool: w.pool,
            state: w.actor ? "assigned" : "free",
          });
      },
    });
  }

  /** Reads workers from `source` at each scrape (the control plane's records). */
  countWorkers(source: WorkerSource): void {
    this.workers = source;
  }

  /** Runs one transition, counting it and timing it by kind and result. */
  transition<T>(kind: TransitionKind, run: () => Promise<T>): Promise<T> {
    return timed(run, (result, s) => {
      this.transitions.inc({ kind, result });
      this.seconds.observe({ kind, result }, s);
    });
  }

  /** Garbage collection removed `count` objects of `bytes` in all (`what`: snapshot, leftover, ...). */
  gcRemovedObjects(what: string, count: number, bytes: number): void {
    if (count > 0) this.gcRemoved.inc({ what }, count);
    if (bytes > 0) this.gcRemovedBytes.inc({ what }, bytes);
  }
}
