import { randomBytes } from "node:crypto";
import type { WorkerPool } from "../api/v1alpha1/index.ts";
import { SandboxConfigType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { type Clock, systemClock } from "../clock/index.ts";
import type { NodeDirectory, NodeInfo } from "../controlplane/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import { checkWorkerAddress, type WorkerInfo } from "../node/index.ts";
import type { Records, Worker } from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import type { WorkerSettings } from "../sandbox/index.ts";
import type { ActorSuspender } from "./evacuate.ts";
import { canRunPool, poolArchs } from "./node-support.ts";
import { NodeWorkers } from "./node-workers.ts";
import { type PoolAsk, type PoolPlan, placePools } from "./pool-placement.ts";
import { noNodeRefusal, type Refusal, shortRefusal } from "./pool-refusal.ts";
import { type PoolSettings, poolSettings, sameSettings } from "./pool-settings.ts";

export interface PoolControllerOptions {
  resources: ResourceStore;
  records: Records;
  /**
   * The nodes workers are placed on (a NodeRegistry): the live ones with their capacity, arch
   * and sandbox classes, and each one's agent.
   */
  nodes: NodeDirectory;
  /**
   * Suspends the actors on a deleted pool's workers before they are removed (the control
   * plane). Without it they are stopped and go back to their last snapshot.
   */
  actors?: ActorSuspender;
  clock?: Clock;
  logger: Logger;
}

/** The condition a pool gets when its workers cannot be created. */
const replicaFailure = "ReplicaFailure";

/**
 * WorkerPool → workers on the live nodes: `replicas` workers per pool with the pool's limits
 * and egress, spread evenly over the nodes that can run the pool and have room (see
 * placePools), or none and a ReplicaFailure condition when the pool's settings are invalid or
 * its replicas do not fit; replaces free workers set up unlike their pool, removes surplus free
 * ones, registers them as Worker records (with their node's entry point) and keeps
 * `status.replicas`. A node's housekeeping (vanished and exited sandboxes, deleted pools'
 * workers, sandboxes no record knows) is NodeWorkers'. A lost node's workers leave the records
 * with it (the registry's lost-node pass), and are replaced here on the others.
 */
export class PoolController {
  private readonly clock: Clock;

  constructor(private readonly o: PoolControllerOptions) {
    this.clock = o.clock ?? systemClock;
  }

  /** One pass over every pool; safe to run at any time and repeatedly. */
  async reconcile(): Promise<void> {
    const pools = (await this.o.resources.list(WorkerPoolType)).items;
    pools.sort(byAge);
    const configs = (await this.o.resources.list(SandboxConfigType)).items;
    const live = await this.o.nodes.list();
    const nodes = new Map(live.map((n) => [n.name, n]));
    const known = new Set(pools.map(poolKey));
    // What each live node runs, as its agent says (all at once: one slow node holds up no
    // other); a node that does not answer keeps its workers untouched this pass.
    const answers = new Map<string, Map<string, WorkerInfo>>();
    await Promise.all(
      live.map(async (n) => {
        try {
          answers.set(n.name, await this.node(n.name).tidy(known));
        } catch (err) {
          this.o.logger.warn("node did not answer; its workers are left as they are", {
            node: n.name,
            error: String(err),
          });
        }
      }),
    );
    const records = (await this.o.records.listWorkers()).filter(
      (w) => nodes.has(w.node) && (!answers.has(w.node) || answers.get(w.node)?.has(w.name)),
    );
    const mine = (pool: WorkerPool) =>
      records.filter(
        (w) => w.namespace === pool.metadata.namespace && w.pool === pool.metadata.name,
      );
    const settings = new Map(pools.map((p) => [poolKey(p), poolSettings(p)]));
    const archs = new Map(pools.map((p) => [poolKey(p), poolArchs(p, configs)]));
    const asks: PoolAsk[] = [];
    for (const p of pools) {
      const s = settings.get(poolKey(p)) as PoolSettings;
      if (!s.ok) continue;
      const have = new Map<string, { total: number; free: number }>();
      for (const w of mine(p)) {
        const h = have.get(w.node) ?? { total: 0, free: 0 };
        have.set(w.node, { total: h.total + 1, free: h.free + (w.actor ? 0 : 1) });
      }
      asks.push({
        key: poolKey(p),
        want: p.spec.replicas,
        requests: s.requests,
        eligible: live.filter((n) => canRunPool(n, p, archs.get(poolKey(p)))).map((n) => n.name),
        have,
      });
    }
    const plans = placePools(
      live.map((n) => ({
        name: n.name,
        capacity: { workers: n.capacity.workers, source: n.capacity.source },
        resources: { memoryBytes: n.capacity.memoryBytes, cpuMillis: n.capacity.cpuMillis },
        existing: records.filter((w) => w.node === n.name).length,
        placeable: answers.has(n.name),
      })),
      asks,
    );
    for (const pool of pools) {
      const s = settings.get(poolKey(pool)) as PoolSettings;
      const plan = plans.get(poolKey(pool));
      const have = mine(pool).length;
      try {
        if (!s.ok) await this.refuse(pool, have, s);
        else if (plan && !plan.admitted)
          await this.refuse(
            pool,
            have,
            plan.why === "no-node"
              ? noNodeRefusal(pool, live, archs.get(poolKey(pool)))
              : shortRefusal(pool, plan.nodes),
          );
        else if (plan) await this.apply(pool, mine(pool), s.settings, plan, nodes);
      } catch (err) {
        // One pool's trouble (e.g. a worker that cannot be created) leaves the others alone.
        this.o.logger.warn("pool reconcile failed", { pool: poolKey(pool), error: String(err) });
      }
    }
  }

  /**
   * Removes a node's free workers (records, sandboxes, network), e.g. when it shuts down;
   * workers still holding an actor stay, for recovery. The next reconcile recreates them.
   */
  async wipe(node: string): Promise<void> {
    await this.node(node).wipe();
  }

  /**
   * The plan for one pool: free workers set up unlike it are replaced on their node (busy ones
   * keep their settings until their actor leaves), then new workers are created and free ones
   * removed where the plan says.
   */
  private async apply(
    pool: WorkerPool,
    workers: Worker[],
    settings: WorkerSettings,
    plan: Extract<PoolPlan, { admitted: true }>,
    nodes: Map<string, NodeInfo>,
  ): Promise<void> {
    const { create, remove } = plan;
    let have = workers.length;
    const gone = new Set<string>();
    for (const w of workers) {
      if (w.actor || sameSettings(w.settings, settings)) continue;
      if (!(await this.node(w.node).remove(w))) continue;
      gone.add(w.name);
      have--;
      // It was one of the node's removals anyway, or it is made again there.
      const planned = remove.get(w.node) ?? 0;
      if (planned > 0) remove.set(w.node, planned - 1);
      else create.set(w.node, (create.get(w.node) ?? 0) + 1);
    }
    for (const [name, count] of create) {
      const node = nodes.get(name);
      for (let i = 0; i < count && node; i++) {
        try {
          await this.createWorker(pool, node, settings);
          have++;
        } catch (err) {
          // The other nodes still get theirs; the next pass tries this one again.
          this.o.logger.warn("creating a worker failed", {
            pool: poolKey(pool),
            node: name,
            error: String(err),
          });
          break;
        }
      }
    }
    for (const [name, count] of remove) {
      const free = workers.filter((w) => w.node === name && !w.actor && !gone.has(w.name));
      let left = count;
      for (const w of free) {
        if (left <= 0) break;
        if (await this.node(name).remove(w)) {
          have--;
          left--;
        }
      }
    }
    await this.setStatus(pool, { replicas: have });
  }

  private async createWorker(pool: WorkerPool, node: NodeInfo, settings: WorkerSettings) {
    const name = workerName(pool.metadata.name);
    const info = await this.o.nodes.get(node.name).createWorker(name, settings);
    if (node.entry) checkWorkerAddress(node.name, name, info.address); // routers go there
    await this.o.records.putWorker({
      namespace: pool.metadata.namespace ?? "default",
      pool: pool.metadata.name,
      name,
      uid: randomBytes(8).toString("hex"),
      node: node.name,
      address: info.address,
      ...(node.entry ? { entry: node.entry } : {}),
      ...(settings.limits || settings.egress ? { settings } : {}),
      version: 0,
    });
    this.o.logger.info("worker created", {
      pool: pool.metadata.name,
      worker: name,
      node: node.name,
      address: info.address,
    });
  }

  /** The pool cannot have (more) workers: no new worker, and its status says why. */
  private async refuse(pool: WorkerPool, have: number, why: Refusal): Promise<void> {
    const { reason, message } = why;
    const old = pool.status?.conditions?.find((c) => c.type === replicaFailure);
    if (old?.message !== message)
      this.o.logger.warn(
        reason === "InsufficientNodeCapacity"
          ? "worker pool does not fit on this node"
          : "worker pool refused",
        { pool: poolKey(pool), replicas: pool.spec.replicas, reason, message },
      );
    await this.setStatus(pool, {
      replicas: have,
      conditions: [
        {
          type: replicaFailure,
          status: "True",
          reason,
          message,
          // Unchanged condition, unchanged time: a refused pool is not rewritten every pass.
          lastTransitionTime:
            old?.message === message
              ? old.lastTransitionTime
              : this.clock
                  .now()
                  .toISOString()
                  .replace(/\.\d+Z$/, "Z"),
          ...(pool.metadata.generation ? { observedGeneration: pool.metadata.generation } : {}),
        },
      ],
    });
  }

  private async setStatus(
    pool: WorkerPool,
    status: NonNullable<WorkerPool["status"]>,
  ): Promise<void> {
    if (JSON.stringify(pool.status ?? {}) === JSON.stringify(status)) return;
    await this.o.resources.updateStatus(WorkerPoolType, { ...pool, status }).catch((err) => {
      if (!isAteError(err, Code.Aborted) && !isAteError(err, Code.NotFound)) throw err;
    });
  }

  private node(name: string): NodeWorkers {
    return new NodeWorkers({
      name,
      agent: this.o.nodes.get(name),
      records: this.o.records,
      logger: this.o.logger,
      ...(this.o.actors ? { actors: this.o.actors } : {}),
    });
  }
}

function workerName(pool: string): string {
  const suffix = randomBytes(3).toString("hex");
  const base = pool.slice(0, 42 - suffix.length - 1).replace(/-+$/, "");
  if (!base)
    throw new AteError(Code.InvalidArgument, `pool name "${pool}" cannot make worker names`);
  return `${base}-${suffix}`;
}

const poolKey = (p: WorkerPool) => `${p.metadata.namespace}/${p.metadata.name}`;

/** Oldest first (then by name): the order in which growing pools get the nodes' capacity. */
function byAge(a: WorkerPool, b: WorkerPool): number {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = poolKey(a);
  const kb = poolKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
