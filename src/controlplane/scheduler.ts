import { matchesSelector } from "../api/labels/index.ts";
import type { ActorTemplate, WorkerPool } from "../api/v1alpha1/index.ts";
import type { Actor, Worker } from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import type { NodeDirectory, NodeInfo } from "./nodes.ts";
import { resolveSandboxAssets } from "./sandbox-assets.ts";
import { fitsLimits, matchesPoolRef } from "./template-pools.ts";

/**
 * The pools an actor may run in: the template's class is a hard gate; the template's
 * workerSelector and the actor's own worker_selector both filter pools by label; the template's
 * workerPoolRef (when set) names the one pool, and its resources.limits pass over pools whose
 * workers are smaller.
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
      matchesSelector({ matchLabels: actor.workerSelector ?? {} }, p.metadata.labels) &&
      matchesPoolRef(template, p) &&
      fitsLimits(template, p),
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

/** What starting an actor needs on a node, beyond a free worker: what the node may have cached. */
export interface ActorNeeds {
  /** Its template's images (`repo@sha256:…`). */
  images: readonly string[];
  /** Per pool (`namespace/name`): arch → the sha256 digests of the pool's runtime assets. */
  assets: ReadonlyMap<string, Readonly<Record<string, readonly string[]>>>;
}

/**
 * Candidate workers on live nodes, in tiers best first: a worker's tier is how many of the
 * actor's needs (runtime asset digests for its node's arch, images) its node has cached, so a
 * resume there fetches the least. Workers on nodes that are not live are left out.
 */
export function byCachedNeeds(
  candidates: readonly Worker[],
  nodes: readonly NodeInfo[],
  needs: ActorNeeds,
): Worker[][] {
  const live = new Map(nodes.map((n) => [n.name, n]));
  const tiers = new Map<number, Worker[]>();
  for (const w of candidates) {
    const node = live.get(w.node);
    if (!node) continue;
    const assets = new Set(node.cachedAssets);
    const images = new Set(node.cachedImages);
    const digests = needs.assets.get(`${w.namespace}/${w.pool}`)?.[node.arch] ?? [];
    const score =
      digests.filter((d) => assets.has(d)).length +
      needs.images.filter((i) => images.has(i)).length;
    tiers.set(score, [...(tiers.get(score) ?? []), w]);
  }
  return [...tiers.entries()].sort(([a], [b]) => b - a).map(([, workers]) => workers);
}

/**
 * The free workers a resume tries, in order: on live nodes only, those whose node caches more
 * of what the actor needs first (byCachedNeeds), each tier shuffled so concurrent resumes
 * spread apart rather than race for one worker.
 */
export async function workersToTry(
  d: { resources: ResourceStore; nodes: NodeDirectory },
  actor: Actor,
  template: ActorTemplate,
  pools: readonly WorkerPool[],
  workers: readonly Worker[],
): Promise<Worker[]> {
  const candidates = candidateWorkers(actor, pools, workers);
  const nodes = await d.nodes.list();
  const several = new Set(candidates.map((w) => w.node)).size > 1;
  // One node (or none free): nothing to prefer, and nothing to read for it.
  const needs = several
    ? await actorNeeds(d.resources, template, pools)
    : { images: [], assets: new Map() };
  return byCachedNeeds(candidates, nodes, needs).flatMap(shuffle);
}

async function actorNeeds(
  resources: ResourceStore,
  template: ActorTemplate,
  pools: readonly WorkerPool[],
): Promise<ActorNeeds> {
  const assets = new Map<string, Record<string, string[]>>();
  for (const pool of pools) {
    // A pool without a runtime prefers no node; its resume fails later, saying why.
    const resolved = await resolveSandboxAssets(resources, pool).catch(() => undefined);
    if (!resolved) continue;
    assets.set(
      `${pool.metadata.namespace ?? "default"}/${pool.metadata.name}`,
      Object.fromEntries(
        Object.entries(resolved.assets).map(([arch, named]) => [
          arch,
          Object.values(named).map((a) => a.sha256),
        ]),
      ),
    );
  }
  return { images: (template.spec.containers ?? []).map((c) => c.image), assets };
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
