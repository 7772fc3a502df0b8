import { availableParallelism, totalmem } from "node:os";

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

/** What a node's pools' requests share: its memory and CPUs. */
export interface NodeResources {
  memoryBytes: number;
  /** Thousandths of a core. */
  cpuMillis: number;
}

/** This machine's memory and CPUs (what a node registers). */
export function machineResources(): NodeResources {
  return { memoryBytes: totalmem(), cpuMillis: availableParallelism() * 1000 };
}
