import { randomBytes } from "node:crypto";
import { formatCpu, formatMemory } from "../api/quantity/index.ts";
import type { WorkerPool } from "../api/v1alpha1/index.ts";
import { WorkerPoolType } from "../api/v1alpha1/index.ts";
import { type Clock, systemClock } from "../clock/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import type { NodeAgentApi } from "../node/index.ts";
import { atLastSnapshot, type Records, type Worker } from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import type { WorkerSettings } from "../sandbox/index.ts";
import { type ActorSuspender, evacuateWorker } from "./evacuate.ts";
import {
  admitPools,
  admitResources,
  machineResources,
  type NodeCapacity,
  type NodeResources,
  type PoolVerdict,
  type ResourceVerdict,
} from "./pool-capacity.ts";
import { type PoolSettings, poolSettings, sameSettings } from "./pool-settings.ts";
import { returnExitedActors } from "./worker-exits.ts";

export interface PoolControllerOptions {
  resources: ResourceStore;
  records: Records;
  /**
   * The node this controller manages workers on, its agent, how many workers it can hold
   * (all pools together; default: no limit beyond the agent's own) and the memory and CPU the
   * pools' requests share (default: this machine's).
   */
  node: { name: string; agent: NodeAgentApi; capacity?: NodeCapacity; resources?: NodeResources };
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

/** Deleted pools' workers emptied at once (each a checkpoint). */
const evacuationConcurrency = 4;

/**
 * WorkerPool → workers on this node: creates `replicas` workers per pool with the pool's
 * limits and egress (all of them, or none and a ReplicaFailure condition when the pool's
 * settings are invalid or it does not fit on the node), replaces free workers set up unlike
 * their pool, removes surplus free ones, registers them as Worker records and keeps
 * `status.replicas`. A deleted pool's workers are emptied (their actors suspended) and
 * removed. A worker whose sandbox vanished or stopped on its own releases its actor back to
 * its last snapshot.
 */
export class PoolController {
  private readonly clock: Clock;
  private readonly resources: NodeResources;

  constructor(private readonly o: PoolControllerOptions) {
    this.clock = o.clock ?? systemClock;
    this.resources = o.node.resources ?? machineResources();
  }

  /** One pass over every pool; safe to run at any time and repeatedly. */
  async reconcile(): Promise<void> {
    const pools = ((await this.o.resources.list(WorkerPoolType)).items as WorkerPool[]).sort(byAge);
    let records = await this.nodeWorkers();
    const live = new Map((await this.o.node.agent.listWorkers()).map((w) => [w.name, w]));
    for (const w of records) {
      if (!live.has(w.name)) await this.forget(w);
    }
    // Before the pools: a worker freed here is replaced (if unlike its pool) in the same pass.
    const deps = { records: this.o.records, agent: this.o.node.agent, logger: this.o.logger };
    const returned = await returnExitedActors(deps, records, [...live.values()]).catch((err) => {
      this.o.logger.warn("returning exited actors failed", { error: String(err) });
      return 0;
    });
    if (returned) records = await this.nodeWorkers();
    const known = new Set(pools.map(poolKey));
    const orphans = records.filter(
      (w) => live.has(w.name) && !known.has(`${w.namespace}/${w.pool}`),
    );
    if (orphans.length) {
      await this.evacuate(orphans);
      records = await this.nodeWorkers();
    }
    const mine = (pool: WorkerPool) =>
      records.filter(
        (w) =>
          w.namespace === pool.metadata.namespace &&
          w.pool === pool.metadata.name &&
          live.has(w.name),
      );
    const settings = new Map(pools.map((p) => [poolKey(p), poolSettings(p)]));
    const demand = (p: WorkerPool) => ({
      key: poolKey(p),
      want: p.spec.replicas,
      have: mine(p).length,
    });
    const fitting = admitResources(
      this.resources,
      pools.flatMap((p) => {
        const s = settings.get(poolKey(p));
        return s?.ok ? [{ ...demand(p), requests: s.requests }] : [];
      }),
    );
    const verdicts = admitPools(
      this.o.node.capacity?.workers ?? Number.POSITIVE_INFINITY,
      records.filter((w) => live.has(w.name)).length,
      pools.filter((p) => fitting.get(poolKey(p))?.admitted).map(demand),
    );
    for (const pool of pools) {
      const s = settings.get(poolKey(pool)) as PoolSettings;
      const fits = fitting.get(poolKey(pool)) ?? { admitted: true };
      const verdict = verdicts.get(poolKey(pool)) ?? { admitted: true };
      const have = mine(pool).length;
      try {
        if (!s.ok) await this.refuse(pool, have, s);
        else if (!fits.admitted) await this.refuse(pool, have, this.resourceRefusal(pool, fits));
        else if (!verdict.admitted)
          await this.refuse(pool, have, this.capacityRefusal(pool, verdict));
        else await this.reconcilePool(pool, mine(pool), s.settings);
      } catch (err) {
        // One pool's trouble (e.g. a worker that cannot be created) leaves the others alone.
        this.o.logger.warn("pool reconcile failed", { pool: poolKey(pool), error: String(err) });
      }
    }
  }

  /**
   * Removes this node's free workers (records, sandboxes, network), e.g. when the node shuts
   * down; workers still holding an actor stay, for recovery. The next reconcile recreates them.
   */
  async wipe(): Promise<void> {
    const records = (await this.o.records.listWorkers()).filter((w) => w.node === this.o.node.name);
    for (const w of records) if (!w.actor) await this.remove(w);
    // Workers the node has but the records lost (e.g. a crash between the two).
    const known = new Set(records.map((w) => w.name));
    for (const w of await this.o.node.agent.listWorkers())
      if (!known.has(w.name) && !w.actor) await this.o.node.agent.deleteWorker(w.name);
  }

  private async reconcilePool(
    pool: WorkerPool,
    workers: Worker[],
    settings: WorkerSettings,
  ): Promise<void> {
    const want = pool.spec.replicas;
    let have = workers.length;
    // Free workers set up unlike their pool (its limits or egress changed) make way for new
    // ones; busy ones keep their settings until their actor leaves.
    const replaced = new Set<string>();
    for (const w of workers)
      if (!w.actor && !sameSettings(w.settings, settings) && (await this.remove(w))) {
        replaced.add(w.name);
        have--;
      }
    for (; have < want; have++) {
      const name = workerName(pool.metadata.name);
      const info = await this.o.node.agent.createWorker(name, settings);
      await this.o.records.putWorker({
        namespace: pool.metadata.namespace ?? "default",
        pool: pool.metadata.name,
        name,
        uid: randomBytes(8).toString("hex"),
        node: this.o.node.name,
        address: info.address,
        ...(settings.limits || settings.egress ? { settings } : {}),
        version: 0,
      });
      this.o.logger.info("worker created", {
        pool: pool.metadata.name,
        worker: name,
        address: info.address,
      });
    }
    const surplus = workers
      .filter((w) => !w.actor && !replaced.has(w.name))
      .slice(0, Math.max(0, have - want));
    for (const w of surplus) if (await this.remove(w)) have--;
    await this.setStatus(pool, { replicas: have });
  }

  private capacityRefusal(pool: WorkerPool, v: Extract<PoolVerdict, { admitted: false }>) {
    const cap = this.o.node.capacity as NodeCapacity;
    return {
      reason: "InsufficientNodeCapacity",
      message: `spec.replicas ${pool.spec.replicas} does not fit on node ${this.o.node.name}: it holds at most ${cap.workers} workers (${cap.source}) and ${v.others} of them belong to other pools, so at most ${v.fits} fit: lower spec.replicas, or remove workers from other pools`,
    };
  }

  private resourceRefusal(pool: WorkerPool, v: Extract<ResourceVerdict, { admitted: false }>) {
    const memory = v.resource === "memory";
    const show = (n: number) => (memory ? formatMemory(n) : formatCpu(n));
    const has = memory
      ? `${Math.floor(v.total / 1024 ** 2)}Mi of memory`
      : `${formatCpu(v.total)} CPUs`;
    return {
      reason: "InsufficientNodeResources",
      message: `spec.replicas ${pool.spec.replicas} × ${v.field} ${show(v.perWorker)} does not fit on node ${this.o.node.name}: it has ${has} and older pools request ${show(v.others)} of ${memory ? "it" : "them"}, so at most ${v.fits} such ${v.fits === 1 ? "worker fits" : "workers fit"}: lower spec.replicas or ${v.field}, or remove other pools`,
    };
  }

  /** The pool cannot have (more) workers: no new worker, and its status says why. */
  private async refuse(
    pool: WorkerPool,
    have: number,
    why: { reason: string; message: string },
  ): Promise<void> {
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

  /**
   * A deleted pool's workers: free ones are removed; busy ones first have their actor
   * suspended (a few at a time), then are removed. Failures are logged; the next pass retries.
   */
  private async evacuate(workers: Worker[]): Promise<void> {
    const queue = [...workers];
    const deps = {
      records: this.o.records,
      agent: this.o.node.agent,
      logger: this.o.logger,
      ...(this.o.actors ? { actors: this.o.actors } : {}),
    };
    await Promise.all(
      Array.from({ length: Math.min(evacuationConcurrency, queue.length) }, async () => {
        for (let w = queue.shift(); w; w = queue.shift()) {
          try {
            const free = await evacuateWorker(deps, w);
            if (free) await this.remove(free);
          } catch (err) {
            this.o.logger.warn("emptying a deleted pool's worker failed; retrying later", {
              worker: w.name,
              error: String(err),
            });
          }
        }
      }),
    );
  }

  private async nodeWorkers(): Promise<Worker[]> {
    return (await this.o.records.listWorkers()).filter((w) => w.node === this.o.node.name);
  }

  /** Removes a free worker; false when it was just claimed (then it stays). */
  private async remove(w: Worker): Promise<boolean> {
    try {
      await this.o.records.deleteWorker(w);
    } catch (err) {
      if (isAteError(err, Code.Aborted)) return false;
      throw err;
    }
    await this.o.node.agent
      .deleteWorker(w.name)
      .catch((err) =>
        this.o.logger.warn("deleting worker failed", { worker: w.name, error: String(err) }),
      );
    this.o.logger.info("worker removed", { pool: w.pool, worker: w.name });
    return true;
  }

  /** The node lost this worker (e.g. a restart): its actor goes back to its last snapshot. */
  private async forget(w: Worker): Promise<void> {
    if (w.actor) {
      const actor = await this.o.records
        .getActor(w.actor.atespace, w.actor.actorId)
        .catch(() => undefined);
      if (actor?.worker?.name === w.name) {
        await this.o.records.releaseWorker(w, atLastSnapshot(actor));
        w = await this.o.records.getWorker(w.namespace, w.name);
        this.o.logger.warn("worker vanished; actor back at its last snapshot", {
          worker: w.name,
          actor: `${actor.atespace}/${actor.actorId}`,
        });
      }
    }
    await this.o.records.deleteWorker(w).catch(() => {});
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

/** Oldest first (then by name): the order in which growing pools get the node's capacity. */
function byAge(a: WorkerPool, b: WorkerPool): number {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = poolKey(a);
  const kb = poolKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
