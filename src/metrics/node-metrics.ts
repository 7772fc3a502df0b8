import { Counter, Histogram, type Registry } from "prom-client";
import { latencyBuckets, Registry as NewRegistry, timed } from "./registry.ts";

/**
 * A node agent's metrics: checkpoint and restore latency as the node runs them, snapshot
 * bytes written to and read from snapshot locations, and its asset cache's hits and misses.
 */
export class NodeMetrics {
  readonly registry: Registry;
  private readonly checkpoints: Histogram<"kind" | "result">;
  private readonly restores: Histogram<"result">;
  readonly snapshotWrittenBytes: Counter;
  readonly snapshotReadBytes: Counter;
  private readonly assetLookups: Counter<"result">;

  constructor(registry: Registry = new NewRegistry()) {
    this.registry = registry;
    const registers = [registry];
    this.checkpoints = new Histogram({
      name: "ate_node_checkpoint_seconds",
      help: "Checkpoints on this node, from the call to the snapshot committed (suspend: uploaded), by kind (suspend, pause) and result.",
      labelNames: ["kind", "result"],
      buckets: latencyBuckets,
      registers,
    });
    this.restores = new Histogram({
      name: "ate_node_restore_seconds",
      help: "Restores on this node, from the call to the actor ready, by result.",
      labelNames: ["result"],
      buckets: latencyBuckets,
      registers,
    });
    this.snapshotWrittenBytes = new Counter({
      name: "ate_snapshot_written_bytes_total",
      help: "Bytes this node wrote to snapshot locations (uploads; hard-linked local files count their size).",
      registers,
    });
    this.snapshotReadBytes = new Counter({
      name: "ate_snapshot_read_bytes_total",
      help: "Bytes this node read from snapshot locations.",
      registers,
    });
    this.assetLookups = new Counter({
      name: "ate_asset_cache_lookups_total",
      help: "Runtime asset lookups in this node's cache by result (hit: cached; miss: downloaded or joined a download).",
      labelNames: ["result"],
      registers,
    });
  }

  /** Times one checkpoint. */
  checkpoint<T>(kind: string, run: () => Promise<T>): Promise<T> {
    return timed(run, (result, s) => this.checkpoints.observe({ kind, result }, s));
  }

  /** Times one restore. */
  restore<T>(run: () => Promise<T>): Promise<T> {
    return timed(run, (result, s) => this.restores.observe({ result }, s));
  }

  assetLookup(hit: boolean): void {
    this.assetLookups.inc({ result: hit ? "hit" : "miss" });
  }
}
