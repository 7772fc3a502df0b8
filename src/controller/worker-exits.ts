import { Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import type { NodeAgentApi, WorkerExit, WorkerInfo } from "../node/index.ts";
import { type Actor, atLastSnapshot, type Records, type Worker } from "../records/index.ts";

export interface WorkerExitDeps {
  records: Records;
  agent: NodeAgentApi;
  logger: Logger;
}

/** An exit the records still show as a running actor, as read before the node confirms it. */
interface Pending {
  worker: Worker;
  actor: Actor;
  exit: WorkerExit;
}

/**
 * Workers whose sandbox stopped on its own (past its memory limit, its process ended): the
 * actor still RUNNING there goes back to its last committed snapshot with the reason recorded,
 * and the worker is freed. Returns how many actors went back.
 *
 * Race-safe: the records are read first, then the node is asked again whether the exit is
 * still its worker's last one, then worker and actor are released by compare-and-set. The node
 * clears an exit when the worker runs or restores again, before the actor can be RUNNING
 * there, so an exit still reported after the records were read cannot be an older run's; and
 * any change to either record since the read makes the release fail (the next pass looks again).
 */
export async function returnExitedActors(
  d: WorkerExitDeps,
  workers: readonly Worker[],
  live: readonly WorkerInfo[],
): Promise<number> {
  const pending: Pending[] = [];
  for (const info of live) {
    const exit = info.lastExit;
    const known = workers.find((w) => w.name === info.name);
    if (!exit || !known) continue;
    const worker = await d.records.getWorker(known.namespace, known.name).catch(missing);
    if (!worker?.actor || !sameActor(worker.actor, exit.actor)) continue;
    const actor = await d.records.getActor(exit.actor.atespace, exit.actor.actorId).catch(missing);
    // Only a settled RUNNING actor: one in a transition is left to it (or to the reconciler).
    if (actor?.status !== "RUNNING" || actor.transition || actor.worker?.name !== worker.name)
      continue;
    pending.push({ worker, actor, exit });
  }
  if (!pending.length) return 0;
  const now = new Map((await d.agent.listWorkers()).map((w) => [w.name, w.lastExit]));
  let returned = 0;
  for (const p of pending) {
    const still = now.get(p.worker.name);
    if (!still || still.at !== p.exit.at || !sameActor(still.actor, p.exit.actor)) continue;
    const back: Actor = {
      ...atLastSnapshot(p.actor),
      lastExit: {
        reason: p.exit.reason,
        message: p.exit.message,
        at: p.exit.at,
        ...(p.exit.exitCode !== undefined ? { exitCode: p.exit.exitCode } : {}),
      },
    };
    try {
      await d.records.releaseWorker(p.worker, back);
    } catch (err) {
      if (isAteError(err, Code.Aborted)) continue; // changed meanwhile: the next pass looks again
      throw err;
    }
    returned++;
    d.logger.warn("actor's sandbox stopped on its own; actor back at its last snapshot", {
      actor: `${p.actor.atespace}/${p.actor.actorId}`,
      worker: p.worker.name,
      reason: p.exit.reason,
      message: p.exit.message,
      snapshot:
        p.actor.latestSnapshot?.uri ?? "none (it starts from its template's golden snapshot)",
    });
  }
  return returned;
}

const sameActor = (a: { atespace: string; actorId: string }, b: typeof a) =>
  a.atespace === b.atespace && a.actorId === b.actorId;

function missing(err: unknown): undefined {
  if (isAteError(err, Code.NotFound)) return undefined;
  throw err;
}
