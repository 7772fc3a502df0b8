import type { Actor, SnapshotInfo, Worker, WorkerRefInRecord } from "./types.ts";

/**
 * The actor without a worker or an operation, back at its last committed snapshot: PAUSED
 * when that snapshot is on a node, else SUSPENDED (with none, it starts from its golden one).
 */
export function atLastSnapshot(actor: Actor): Actor {
  // No worker, no sandbox: nothing frozen either.
  const { worker: _w, transition: _t, inProgressSnapshot: _s, tier: _f, ...rest } = actor;
  return { ...rest, status: actor.latestSnapshot?.type === "LOCAL" ? "PAUSED" : "SUSPENDED" };
}

/**
 * The actor without a worker or an operation, SUSPENDED at its last committed EXTERNAL
 * snapshot (with none, it starts from its golden one): for when the node that held its
 * sandbox or its local snapshot is gone.
 */
export function atLastExternalSnapshot(actor: Actor): Actor {
  const {
    worker: _w,
    transition: _t,
    inProgressSnapshot: _s,
    tier: _f,
    latestSnapshot: latest,
    lastExternalSnapshot: kept,
    ...rest
  } = actor;
  const external = latest?.type === "EXTERNAL" ? latest : kept;
  return { ...rest, status: "SUSPENDED", ...(external ? { latestSnapshot: external } : {}) };
}

/**
 * The snapshot fields of an actor whose snapshot `info` was just committed: the latest, the
 * history of EXTERNAL ones (what ate.dev/snapshot-history counts and garbage collection cuts;
 * a node-local one is superseded by the next snapshot, never kept as history) and, when the
 * new one is LOCAL, the last EXTERNAL one (what atLastExternalSnapshot goes back to if that
 * node is lost). A new EXTERNAL one is that itself: the caller drops lastExternalSnapshot, so
 * no older one stays owned by it past the history (a small leak per actor otherwise).
 */
export function withSnapshot(
  actor: Actor,
  info: SnapshotInfo,
): Pick<Actor, "latestSnapshot" | "snapshots" | "lastExternalSnapshot"> {
  const external =
    actor.latestSnapshot?.type === "EXTERNAL" ? actor.latestSnapshot : actor.lastExternalSnapshot;
  const history = actor.snapshots ?? [];
  return {
    latestSnapshot: info,
    snapshots: info.type === "EXTERNAL" ? [...history, info.uri] : history,
    ...(info.type === "LOCAL" && external ? { lastExternalSnapshot: external } : {}),
  };
}

/** How an actor's record names the worker it holds. */
export function workerRef(w: Worker): WorkerRefInRecord {
  return {
    namespace: w.namespace,
    name: w.name,
    pool: w.pool,
    node: w.node,
    address: w.address,
    uid: w.uid,
    ...(w.entry ? { entry: w.entry } : {}),
  };
}
