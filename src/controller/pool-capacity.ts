import { totalmem } from "node:os";

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
