import { Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import type { NodeAgentApi } from "../node/index.ts";
import { type Actor, atLastSnapshot, type Records, type Worker } from "../records/index.ts";

/** Suspends an actor (state kept in its snapshot storage); ControlPlane is one. */
export interface ActorSuspender {
  suspendActor(ref: { atespace: string; name: string }): Promise<Actor>;
}

export interface EvacuateDeps {
  records: Records;
  agent: NodeAgentApi;
  /** Without one, actors are stopped at their last snapshot instead of suspended. */
  actors?: ActorSuspender;
  logger: Logger;
}

/**
 * Empties a worker whose pool was deleted, so it can be removed: its running actor is
 * suspended (state kept); an actor that cannot be suspended is stopped and returned to its last
 * committed snapshot, never left running on a worker no pool owns. An actor in the middle of a
 * transition is left to finish it (or to the reconciler): the next pass looks again. Returns
 * the worker once it is free, else undefined.
 */
export async function evacuateWorker(d: EvacuateDeps, w: Worker): Promise<Worker | undefined> {
  if (!w.actor) return w;
  const key = `${w.actor.atespace}/${w.actor.actorId}`;
  const actor = await d.records.getActor(w.actor.atespace, w.actor.actorId).catch((err) => {
    if (isAteError(err, Code.NotFound)) return undefined;
    throw err;
  });
  // The worker's claim is stale (its actor is elsewhere or gone): nothing runs here for it.
  if (actor?.worker?.name !== w.name) return w;
  if (actor.status !== "RUNNING") return undefined;
  let why = "no control plane to suspend it";
  if (d.actors) {
    try {
      await d.actors.suspendActor({ atespace: actor.atespace, name: actor.actorId });
      d.logger.info("actor suspended: its worker's pool was deleted", {
        actor: key,
        worker: w.name,
      });
    } catch (err) {
      if (isAteError(err, Code.Aborted)) return undefined; // another transition: look again later
      why = (err as Error).message;
    }
  }
  const now = await d.records.getActor(actor.atespace, actor.actorId).catch(() => undefined);
  if (now?.status === "RUNNING" && now.worker?.name === w.name)
    await stopAtLastSnapshot(d, w, now, why);
  const fresh = await d.records.getWorker(w.namespace, w.name).catch(() => undefined);
  return fresh && !fresh.actor ? fresh : undefined;
}

/** Stops the actor without a snapshot and frees the worker: the actor is back at its last one. */
async function stopAtLastSnapshot(d: EvacuateDeps, w: Worker, actor: Actor, why: string) {
  await d.agent.stop(w.name);
  const back = atLastSnapshot(actor);
  const current = await d.records.getWorker(w.namespace, w.name);
  await d.records.releaseWorker(current, back);
  d.logger.warn(
    "actor stopped and returned to its last snapshot: its worker's pool was deleted and suspending it failed",
    {
      actor: `${actor.atespace}/${actor.actorId}`,
      worker: w.name,
      snapshot: actor.latestSnapshot?.uri ?? "none (it starts afresh)",
      error: why,
    },
  );
}
