import type { Clock } from "../clock/index.ts";
import type { Logger } from "../log/index.ts";
import type { NodeAgentApi } from "../node/index.ts";
import { type Actor, atLastSnapshot, type Records, type Worker } from "../records/index.ts";
import { committedSnapshot } from "../snapshots/index.ts";
import type { NodeDirectory } from "./nodes.ts";

/**
 * Finishes or rolls back transitions whose owner stopped (crash, kill -9): each actor ends
 * RUNNING on the worker that really runs it, or at a committed snapshot with its worker free.
 * Needs nothing from ActorTemplates (they may be gone). An aborted signal stops it between
 * actors.
 */
export async function reconcileActors(
  records: Records,
  nodes: NodeDirectory,
  clock: Clock,
  logger: Logger,
  options: {
    all?: boolean;
    signal?: AbortSignal;
    /** Whether a transition's owner is gone (crashed): its unexpired transitions are taken too. */
    orphaned?: (owner: string) => boolean | Promise<boolean>;
  } = {},
): Promise<number> {
  let fixed = 0;
  let token = "";
  do {
    const page = await records.listActors({ pageToken: token });
    for (const actor of page.actors) {
      if (options.signal?.aborted) return fixed;
      if (!actor.transition) continue;
      const expired = actor.transition.expiresAt <= clock.now().getTime();
      if (!options.all && !expired && !(await options.orphaned?.(actor.transition.owner))) continue;
      try {
        await reconcileOne(records, nodes, actor);
        fixed++;
        logger.info("reconciled an interrupted transition", {
          actor: `${actor.atespace}/${actor.actorId}`,
          op: actor.transition.op,
        });
      } catch (err) {
        logger.warn("could not reconcile actor", {
          actor: `${actor.atespace}/${actor.actorId}`,
          error: String(err),
        });
      }
    }
    token = page.nextPageToken;
  } while (token);
  return fixed;
}

async function reconcileOne(records: Records, nodes: NodeDirectory, actor: Actor): Promise<void> {
  const ref = actor.worker;
  const { transition: _t, inProgressSnapshot: _s, ...rest } = actor;
  const worker: Worker | undefined = ref
    ? await records.getWorker(ref.namespace, ref.name).catch(() => undefined)
    : undefined;
  // A node that cannot be reached (lost, gone, failing) runs nothing we can count on: the
  // actor is rolled back like one whose sandbox is gone, never left mid-transition for good
  // (a node that comes back tears down such sandboxes before it takes work).
  let node: NodeAgentApi | undefined;
  let runsIt = false;
  try {
    node = ref ? nodes.get(ref.node) : undefined;
    runsIt =
      node && ref
        ? (await node.listWorkers()).some(
            (w) =>
              w.name === ref.name &&
              w.actor?.actorId === actor.actorId &&
              w.actor.atespace === actor.atespace,
          )
        : false;
  } catch {
    node = undefined;
  }

  // A snapshot whose manifest was written is committed, whoever crashed afterwards. Storage
  // that cannot be asked counts as not committed: the actor goes back to its last snapshot
  // rather than wait on it for good.
  const pending = actor.inProgressSnapshot;
  const committed = pending ? await committedSnapshot(pending).catch(() => undefined) : undefined;
  if (committed && pending && actor.transition?.op === "suspend") {
    if (runsIt && node && ref) await node.stop(ref.name);
    // The new latest is the last external one itself (see withSnapshot).
    const { worker: _w, tier: _f, lastExternalSnapshot: _e, ...free } = rest;
    const latestSnapshot = {
      type: "EXTERNAL" as const,
      scope: committed.scope,
      uri: pending,
    };
    const next: Actor = {
      ...free,
      status: "SUSPENDED",
      latestSnapshot,
      snapshots: [...(actor.snapshots ?? []), pending],
    };
    if (worker) await records.releaseWorker(worker, next);
    else await records.updateActor(next);
    return;
  }
  if (runsIt) {
    await records.updateActor({ ...rest, status: "RUNNING" });
    return;
  }
  const back = atLastSnapshot(actor);
  if (worker?.actor?.actorId === actor.actorId) await records.releaseWorker(worker, back);
  else await records.updateActor(back);
}
