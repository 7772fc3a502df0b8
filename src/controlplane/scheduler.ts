import { matchesSelector } from "../api/labels/index.ts";
import type { ActorTemplate, WorkerPool } from "../api/v1alpha1/index.ts";
import type { Actor, Worker } from "../records/index.ts";

/**
 * The pools an actor may run in: the template's class is a hard gate; the template's
 * workerSelector and the actor's own worker_selector both filter pools by label.
 */
export function eligiblePools(
  template: ActorTemplate,
  actor: Actor,
  pools: readonly WorkerPool[],
): WorkerPool[] {
  const cls = template.spec.sandboxClass ?? "gvisor";
  return pools.filter(
    (p) =>
      (p.spec.sandboxClass ?? "gvisor") === cls &&
      matchesSelector(template.spec.workerSelector, p.metadata.labels) &&
      matchesSelector({ matchLabels: actor.workerSelector ?? {} }, p.metadata.labels),
  );
}

/**
 * Every worker, free or busy, that could run the actor: in one of `pools` (its eligible
 * pools) and, for a paused actor, on a node holding its local snapshot. Freeing one of these
 * (e.g. by evicting its actor) makes room for the actor; freeing any other does not.
 */
export function servingWorkers(
  actor: Actor,
  pools: readonly WorkerPool[],
  workers: readonly Worker[],
): Worker[] {
  const poolKeys = new Set(pools.map((p) => `${p.metadata.namespace}/${p.metadata.name}`));
  const snapshot = actor.latestSnapshot;
  return workers.filter(
    (w) =>
      poolKeys.has(`${w.namespace}/${w.pool}`) &&
      (snapshot?.type !== "LOCAL" || (snapshot.nodes ?? []).includes(w.node)),
  );
}

/**
 * Free workers in a stable order; a paused actor must go back to a node holding its local
 * snapshot.
 */
export function candidateWorkers(
  actor: Actor,
  pools: readonly WorkerPool[],
  workers: readonly Worker[],
): Worker[] {
  return servingWorkers(actor, pools, workers)
    .filter((w) => !w.actor)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
