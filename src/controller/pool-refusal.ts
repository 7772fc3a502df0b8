import { formatCpu, formatMemory } from "../api/quantity/index.ts";
import type { WorkerPool } from "../api/v1alpha1/index.ts";
import type { NodeInfo } from "../controlplane/index.ts";
import { liveNodesClause, needsClause } from "./node-support.ts";
import type { NodeShort } from "./pool-placement.ts";

/** What goes into a refused pool's ReplicaFailure condition. */
export interface Refusal {
  reason: string;
  message: string;
}

/**
 * Why a pool's replicas do not fit on the nodes that can run it. With one such node the
 * message is one machine's (InsufficientNodeCapacity or InsufficientNodeResources); with
 * several, each node says why, and the reason is InsufficientNodeResources when any node is
 * short of memory or CPU.
 */
export function shortRefusal(pool: WorkerPool, shorts: readonly NodeShort[]): Refusal {
  const replicas = pool.spec.replicas;
  const capacityOnly = shorts.every((s) => s.kind === "capacity");
  const reason = capacityOnly ? "InsufficientNodeCapacity" : "InsufficientNodeResources";
  const [only] = shorts;
  if (shorts.length === 1 && only) {
    if (only.kind === "capacity")
      return {
        reason,
        message: `spec.replicas ${replicas} does not fit on node ${only.node}: ${capacityClause("it", only)}: lower spec.replicas, or remove workers from other pools`,
      };
    return {
      reason,
      message: `spec.replicas ${replicas} × ${only.field} ${show(only)} does not fit on node ${only.node}: ${resourceClause("it", only)} such ${workersFit(only.fits)}: lower spec.replicas or ${only.field}, or remove other pools`,
    };
  }
  const total = shorts.reduce((sum, s) => sum + s.fits, 0);
  const clauses = shorts.map((s) =>
    s.kind === "capacity"
      ? capacityClause(`node ${s.node}`, s)
      : `${resourceClause(`node ${s.node}`, s)} ${s.fits === 1 ? "worker" : "workers"} of ${s.field} ${show(s)} ${s.fits === 1 ? "fits" : "fit"}`,
  );
  return {
    reason,
    message: `spec.replicas ${replicas} does not fit on the ${shorts.length} nodes that can run it (at most ${total} do): ${clauses.join("; ")}: lower spec.replicas, make room on these nodes (${capacityOnly ? "remove workers of other pools" : "lower requests, or remove other pools"}), or add nodes`,
  };
}

/** No live node can run the pool at all. */
export function noNodeRefusal(
  pool: WorkerPool,
  live: readonly NodeInfo[],
  archs: readonly string[] | undefined,
): Refusal {
  return {
    reason: "NoSuitableNode",
    message: `spec.replicas ${pool.spec.replicas} cannot be placed: no live node can run this pool (${needsClause(pool.spec.sandboxClass ?? "gvisor", archs)}); ${liveNodesClause(live)}: start a node agent that can, or change the pool`,
  };
}

function capacityClause(subject: string, s: Extract<NodeShort, { kind: "capacity" }>): string {
  return `${subject} holds at most ${s.capacity.workers} workers (${s.capacity.source}) and ${s.others} of them belong to other pools, so at most ${s.fits} fit`;
}

function resourceClause(subject: string, s: Extract<NodeShort, { kind: "resources" }>): string {
  const memory = s.resource === "memory";
  const has = memory
    ? `${Math.floor(s.total / 1024 ** 2)}Mi of memory`
    : `${formatCpu(s.total)} CPUs`;
  const others = memory ? formatMemory(s.others) : formatCpu(s.others);
  return `${subject} has ${has} and older pools request ${others} of ${memory ? "it" : "them"}, so at most ${s.fits}`;
}

function show(s: Extract<NodeShort, { kind: "resources" }>): string {
  return s.resource === "memory" ? formatMemory(s.perWorker) : formatCpu(s.perWorker);
}

const workersFit = (n: number) => (n === 1 ? "worker fits" : "workers fit");
