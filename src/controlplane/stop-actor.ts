import { type Actor, atLastSnapshot } from "../records/index.ts";
import { busy, identityOf, type LifecycleDeps, transitionMark } from "./transitions.ts";

/**
 * Stops an actor without a checkpoint and frees its worker: the actor goes back to its last
 * committed snapshot, and what it did since is lost. For actors whose state does not matter
 * (a golden actor at shutdown) or that cannot be checkpointed.
 */
export async function stopActor(
  d: LifecycleDeps,
  atespace: string,
  actorId: string,
): Promise<Actor> {
  let actor = await d.records.getActor(atespace, actorId);
  if (actor.status === "SUSPENDED" || actor.status === "PAUSED") return actor;
  if (actor.status !== "RUNNING" || !actor.worker) throw busy(actor);
  // Before anything is marked: a node that cannot be reached leaves the actor as it was.
  const node = d.nodes.get(actor.worker.node);
  // A suspend mark without a snapshot: after a crash the reconciler keeps the actor RUNNING
  // if its sandbox still runs, else puts it back at its last snapshot, as below.
  actor = await d.records.updateActor({
    ...actor,
    status: "SUSPENDING",
    transition: transitionMark(d, "suspend", actor.worker.name),
  });
  // Routers see the mark (WatchActors), stop forwarding and let requests under way finish.
  await d.hooks.beforeCheckpoint(actor);
  const ref = actor.worker as NonNullable<Actor["worker"]>;
  const runsIt = async () =>
    (await node.listWorkers()).some(
      (w) => w.name === ref.name && w.actor?.actorId === actorId && w.actor.atespace === atespace,
    );
  try {
    // Never stop a sandbox that is not this actor's. A frozen one runs again first: runsc
    // kills a paused sandbox only by `delete --force` (≈7 s measured, against ≈2 s).
    if (await runsIt()) {
      if (actor.tier === "frozen")
        await node.thaw({ worker: ref.name, actor: identityOf(actor) }).catch(() => {});
      await node.stop(ref.name);
    }
  } catch (err) {
    if (await runsIt().catch(() => true)) {
      const { transition: _t, ...rest } = actor;
      await d.records.updateActor({ ...rest, status: "RUNNING" });
      throw err;
    }
  }
  const worker = await d.records.getWorker(ref.namespace, ref.name);
  const back = atLastSnapshot(actor);
  const released = await d.records.releaseWorker(worker, back);
  d.hooks.changed(released.actor);
  d.logger.info("actor stopped without a checkpoint", {
    actor: `${atespace}/${actorId}`,
    worker: ref.name,
    snapshot: actor.latestSnapshot?.uri,
  });
  return released.actor;
}
