import type { NodeCapacity, NodeResources } from "./pool-capacity.ts";
import type { WorkerRequests } from "./pool-settings.ts";

/** A live node as placement sees it. */
export interface PlacementNode {
  name: string;
  capacity: NodeCapacity;
  resources: NodeResources;
  /** Workers on it now, all pools together (deleted pools' still being emptied included). */
  existing: number;
  /** False when its agent did not answer this pass: its workers count, none is made or removed. */
  placeable: boolean;
}

/** A pool's wish across the nodes. */
export interface PoolAsk {
  key: string;
  /** spec.replicas */
  want: number;
  requests: WorkerRequests;
  /** The live nodes that can run the pool (its sandbox class and arch). */
  eligible: readonly string[];
  /** Its workers on each live node, and how many of them are free. */
  have: ReadonlyMap<string, { total: number; free: number }>;
}

/** Why a pool's workers do not fit on one node. */
export type NodeShort =
  | {
      node: string;
      kind: "capacity";
      capacity: NodeCapacity;
      /** Workers of other pools on it. */
      others: number;
      /** The most of this pool's workers it could hold. */
      fits: number;
    }
  | {
      node: string;
      kind: "resources";
      resource: "memory" | "cpu";
      /** What one worker requests, and the field that says so. */
      perWorker: number;
      field: string;
      /** What the node has, and what older pools take of it. */
      total: number;
      others: number;
      fits: number;
    };

export type PoolPlan =
  | {
      admitted: true;
      /** New workers per node. */
      create: Map<string, number>;
      /** Free workers to remove per node (surplus, misplaced, or moved to even the spread). */
      remove: Map<string, number>;
    }
  | { admitted: false; why: "no-node" }
  | { admitted: false; why: "short"; nodes: NodeShort[] };

/**
 * Places every pool's replicas on the live nodes, oldest pool first. A pool's workers spread
 * evenly over the nodes that can run it and have room: new ones go where it has fewest, and
 * free ones move (created on the emptier node, removed from the fuller) until no node has two
 * more than another — busy ones never move. Free workers on nodes that cannot run it go.
 *
 * Room on a node, as on one machine: every existing worker counts against its worker capacity
 * (a shrinking pool's room is counted once its workers are gone, the next pass), and its memory
 * and CPU go to the pools' requests oldest first. A pool whose missing workers do not all fit
 * gets none (rather than filling the nodes worker by worker) and keeps the workers it has;
 * other pools are unaffected by it.
 */
export function placePools(
  nodes: readonly PlacementNode[],
  pools: readonly PoolAsk[],
): Map<string, PoolPlan> {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const used = new Map(nodes.map((n) => [n.name, { workers: n.existing, memory: 0, cpu: 0 }]));
  const plans = new Map<string, PoolPlan>();
  for (const p of pools) {
    const eligible = new Set(p.eligible);
    const count = (n: string) => p.have.get(n)?.total ?? 0;
    const free = (n: string) => p.have.get(n)?.free ?? 0;
    const remove = new Map<string, number>();
    let have = 0;
    for (const [n, h] of p.have) {
      const node = byName.get(n);
      if (eligible.has(n) || !node?.placeable) have += h.total;
      else {
        // A node that cannot run the pool (any more): its free workers go, busy ones count.
        have += h.total - h.free;
        if (h.free) remove.set(n, h.free);
      }
    }
    const targets = nodes.filter((n) => n.placeable && eligible.has(n.name));
    const fits = new Map(targets.map((n) => [n.name, fitsOn(n, used, p, count(n.name))]));
    const room = (n: string) => Math.max(0, (fits.get(n)?.fits ?? 0) - count(n));
    const need = p.want - have;
    if (need > 0 && targets.reduce((sum, n) => sum + room(n.name), 0) < need) {
      plans.set(
        p.key,
        targets.length === 0
          ? { admitted: false, why: "no-node" }
          : { admitted: false, why: "short", nodes: shortages(targets, fits, p, count, need) },
      );
      reserve(used, p, (n) => count(n), new Map());
      continue;
    }
    const create = new Map<string, number>();
    const size = (n: string) => count(n) + (create.get(n) ?? 0) - (remove.get(n) ?? 0);
    const names = targets.map((n) => n.name);
    const emptiest = () =>
      least(
        names.filter((n) => (create.get(n) ?? 0) < room(n)),
        (n) => [size(n), (used.get(n)?.workers ?? 0) + (create.get(n) ?? 0)],
      );
    const fullest = () =>
      least(
        names.filter((n) => free(n) - (remove.get(n) ?? 0) > 0),
        (n) => [-size(n), -(used.get(n)?.workers ?? 0)],
      );
    for (let i = 0; i < need; i++) add(create, emptiest() as string, 1);
    for (let i = 0; i < -need; i++) {
      const n = fullest();
      if (n === undefined) break; // the rest are busy: they go once freed
      add(remove, n, 1);
    }
    // Even out: move free workers from the fullest node to the emptiest one with room.
    for (;;) {
      const hi = fullest();
      const lo = emptiest();
      if (hi === undefined || lo === undefined || size(hi) - size(lo) <= 1) break;
      add(create, lo, 1);
      add(remove, hi, 1);
    }
    plans.set(p.key, { admitted: true, create, remove });
    reserve(used, p, size, create);
  }
  return plans;
}

interface Fit {
  /** The most of the pool's workers the node could hold. */
  fits: number;
  /** By worker capacity, and by each resource the pool requests. */
  byCapacity: number;
  byResource: { resource: "memory" | "cpu"; fits: number; total: number; others: number }[];
}

function fitsOn(
  node: PlacementNode,
  used: Map<string, { workers: number; memory: number; cpu: number }>,
  p: PoolAsk,
  count: number,
): Fit {
  const u = used.get(node.name) ?? { workers: 0, memory: 0, cpu: 0 };
  const byCapacity = count + Math.max(0, node.capacity.workers - u.workers);
  const byResource = [
    { resource: "memory" as const, per: p.requests.memoryBytes, total: node.resources.memoryBytes },
    { resource: "cpu" as const, per: p.requests.cpuMillis, total: node.resources.cpuMillis },
  ]
    .filter((a) => a.per > 0)
    .map((a) => {
      const others = a.resource === "memory" ? u.memory : u.cpu;
      return {
        resource: a.resource,
        total: a.total,
        others,
        fits: Math.max(0, Math.floor((a.total - others) / a.per)),
      };
    });
  return {
    fits: Math.min(byCapacity, ...byResource.map((r) => r.fits)),
    byCapacity,
    byResource,
  };
}

/**
 * Each node's reason, as one machine's would be: resources first (the first requested
 * resource that cannot hold what this node would need to take), then worker capacity. When
 * the requests alone could not hold the pool anywhere, every node says so by its resources.
 */
function shortages(
  targets: readonly PlacementNode[],
  fits: Map<string, Fit>,
  p: PoolAsk,
  count: (n: string) => number,
  need: number,
): NodeShort[] {
  const byResourcesAlone = targets.reduce((sum, n) => {
    const f = fits.get(n.name) as Fit;
    return sum + Math.max(0, Math.min(...f.byResource.map((r) => r.fits)) - count(n.name));
  }, 0);
  return targets.map((n) => {
    const f = fits.get(n.name) as Fit;
    const wanted = count(n.name) + need;
    const resource = f.byResource.find((r) => r.fits < wanted);
    const capacityShort = f.byCapacity < wanted;
    if (resource && (byResourcesAlone < need || !capacityShort || resource.fits <= f.byCapacity)) {
      const memory = resource.resource === "memory";
      return {
        node: n.name,
        kind: "resources",
        resource: resource.resource,
        perWorker: memory ? p.requests.memoryBytes : p.requests.cpuMillis,
        field: memory ? p.requests.memoryField : p.requests.cpuField,
        total: resource.total,
        others: resource.others,
        fits: resource.fits,
      };
    }
    return {
      node: n.name,
      kind: "capacity",
      capacity: n.capacity,
      others: n.existing - count(n.name),
      fits: f.byCapacity,
    };
  });
}

/** What a pool takes of each node: `size(n)` workers' requests, and its new workers' places. */
function reserve(
  used: Map<string, { workers: number; memory: number; cpu: number }>,
  p: PoolAsk,
  size: (n: string) => number,
  create: Map<string, number>,
) {
  for (const [n, u] of used) {
    u.workers += create.get(n) ?? 0;
    u.memory += size(n) * p.requests.memoryBytes;
    u.cpu += size(n) * p.requests.cpuMillis;
  }
}

function add(m: Map<string, number>, key: string, n: number) {
  m.set(key, (m.get(key) ?? 0) + n);
}

/** The item with the smallest key (compared in order), the earliest on ties. */
function least<T>(items: readonly T[], key: (t: T) => number[]): T | undefined {
  let best: T | undefined;
  let bestKey: number[] = [];
  for (const item of items) {
    const k = key(item);
    if (best === undefined || lexLess(k, bestKey)) {
      best = item;
      bestKey = k;
    }
  }
  return best;
}

function lexLess(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if ((a[i] as number) !== (b[i] as number)) return (a[i] as number) < (b[i] as number);
  }
  return false;
}
