import { availableParallelism, totalmem } from "node:os";
import type { WorkerRequests } from "./pool-settings.ts";

/** How much of the machine's memory one worker is counted as, for the default worker limit. */
export const memoryPerWorker = 256 * 1024 * 1024;

/** The default limit on a node's workers: one per 256 MiB of the machine's memory (at least 1). */
export function defaultMaxWorkers(memoryBytes = totalmem()): number {
  return Math.max(1, Math.floor(memoryBytes / memoryPerWorker));
}

/** How many workers a node can hold, all pools together, and what sets that (for messages). */
export interface NodeCapacity {
  workers: number;
  /** e.g. "--max-workers 92" or "its network range, --net-subnet 64". */
  source: string;
}

/** A pool's wish on one node. */
export interface PoolDemand {
  key: string;
  /** spec.replicas */
  want: number;
  /** Workers it has on the node now. */
  have: number;
}

export type PoolVerdict =
  | { admitted: true }
  | {
      admitted: false;
      /** The most replicas the pool could have now (its workers plus the free capacity). */
      fits: number;
      /** Workers of other pools (and of deleted ones still being emptied) on the node. */
      others: number;
    };

/**
 * Shares a node's capacity among its pools. Every existing worker counts against it (a node
 * never drops workers to make room); pools that shrink or stay are admitted, and pools that
 * grow are, in the order given (oldest first), if all their new workers fit. A refused
 * pool gets no new worker at all rather than being filled worker by worker until the node
 * runs out, and other pools are unaffected by it.
 */
export function admitPools(
  capacity: number,
  existing: number,
  demands: readonly PoolDemand[],
): Map<string, PoolVerdict> {
  const verdicts = new Map<string, PoolVerdict>();
  let free = capacity - existing;
  for (const d of demands) {
    // A shrinking pool frees capacity once its workers are gone (the next pass counts that).
    if (d.want <= d.have) {
      verdicts.set(d.key, { admitted: true });
      continue;
    }
    const grow = d.want - d.have;
    if (grow <= free) {
      free -= grow;
      verdicts.set(d.key, { admitted: true });
    } else {
      verdicts.set(d.key, {
        admitted: false,
        fits: d.have + Math.max(0, free),
        others: existing - d.have,
      });
    }
  }
  return verdicts;
}

/** What a node's pools' requests share: its memory and CPUs. */
export interface NodeResources {
  memoryBytes: number;
  /** Thousandths of a core. */
  cpuMillis: number;
}

/** This machine's memory and CPUs. */
export function machineResources(): NodeResources {
  return { memoryBytes: totalmem(), cpuMillis: availableParallelism() * 1000 };
}

/** A pool's wish on one node, with what each of its workers requests. */
export interface ResourceDemand extends PoolDemand {
  requests: WorkerRequests;
}

export type ResourceVerdict =
  | { admitted: true }
  | {
      admitted: false;
      resource: "memory" | "cpu";
      /** What one worker requests, and the field that says so. */
      perWorker: number;
      field: string;
      /** What the node has, and what older pools take of it. */
      total: number;
      others: number;
      /** The most workers of this pool that fit beside the others. */
      fits: number;
    };

/**
 * Shares a node's memory and CPU among its pools by their requests: oldest first, a pool is
 * admitted when its `replicas × requests` fit beside the older admitted pools'. A refused pool
 * keeps the workers it has (they count against newer pools) and gets no new one.
 */
export function admitResources(
  node: NodeResources,
  demands: readonly ResourceDemand[],
): Map<string, ResourceVerdict> {
  const verdicts = new Map<string, ResourceVerdict>();
  const used = { memory: 0, cpu: 0 };
  for (const d of demands) {
    const axes = [
      { resource: "memory" as const, per: d.requests.memoryBytes, total: node.memoryBytes },
      { resource: "cpu" as const, per: d.requests.cpuMillis, total: node.cpuMillis },
    ].map((a) => ({
      ...a,
      field: a.resource === "memory" ? d.requests.memoryField : d.requests.cpuField,
    }));
    const short = axes.find((a) => a.per > 0 && used[a.resource] + d.want * a.per > a.total);
    if (!short) {
      for (const a of axes) used[a.resource] += d.want * a.per;
      verdicts.set(d.key, { admitted: true });
      continue;
    }
    verdicts.set(d.key, {
      admitted: false,
      resource: short.resource,
      perWorker: short.per,
      field: short.field,
      total: short.total,
      others: used[short.resource],
      fits: Math.max(0, Math.floor((short.total - used[short.resource]) / short.per)),
    });
    for (const a of axes) used[a.resource] += d.have * a.per;
  }
  return verdicts;
}
