import { openBlobStore } from "../blob/index.ts";
import type { Clock } from "../clock/index.ts";
import type { Logger } from "../log/index.ts";
import { manifestName } from "../node/index.ts";
import { type Actor, atLastSnapshot, type Records, type Worker } from "../records/index.ts";
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
  options: { all?: boolean; signal?: AbortSignal } = {},
): Promise<number> {
  let fixed = 0;
  let token = "";
  do {
    const page = await records.listActors({ pageToken: token });
    for (const actor of page.actors) {
      if (options.signal?.aborted) return fixed;
      if (!actor.transition) continue;
      if (!options.all && actor.transition.expiresAt > clock.now().getTime()) continue;
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
  const node = ref ? nodes.get(ref.node) : undefined;
  const runsIt =
    node && ref
      ? (await node.listWorkers()).some(
          (w) =>
            w.name === ref.name &&
            w.actor?.actorId === actor.actorId &&
            w.actor.atespace === actor.atespace,
        )
      : false;

  // A snapshot whose manifest was written is committed, whoever crashed afterwards.
  const pending = actor.inProgressSnapshot;
  const committed = pending
    ? !!(await openBlobStore(pending)
        .stat(manifestName)
        .catch(() => undefined))
    : false;
  if (committed && pending && actor.transition?.op === "suspend") {
    if (runsIt && node && ref) await node.stop(ref.name);
    const { worker: _w, ...free } = rest;
    const latestSnapshot = {
      type: "EXTERNAL" as const,
      scope: await snapshotScope(pending),
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

async function snapshotScope(uri: string): Promise<"Full" | "Data"> {
  const body = await openBlobStore(uri).get(manifestName);
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return (JSON.parse(Buffer.concat(chunks).toString()) as { scope: "Full" | "Data" }).scope;
}
