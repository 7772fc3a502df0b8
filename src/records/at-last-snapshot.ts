import type { Actor } from "./types.ts";

/**
 * The actor without a worker or an operation, back at its last committed snapshot: PAUSED
 * when that snapshot is on a node, else SUSPENDED (with none, it starts from its golden one).
 */
export function atLastSnapshot(actor: Actor): Actor {
  const { worker: _w, transition: _t, inProgressSnapshot: _s, ...rest } = actor;
  return { ...rest, status: actor.latestSnapshot?.type === "LOCAL" ? "PAUSED" : "SUSPENDED" };
}
