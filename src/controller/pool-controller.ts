import { randomBytes } from "node:crypto";
import type { WorkerPool } from "../api/v1alpha1/index.ts";
import { WorkerPoolType } from "../api/v1alpha1/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import type { NodeAgentApi } from "../node/index.ts";
import type { Actor, Records, Worker } from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";

export interface PoolControllerOptions {
  resources: ResourceStore;
  records: Records;
  /** The node this controller manages workers on, and its agent. */
  node: { name: string; agent: NodeAgentApi };
  logger: Logger;
}

/**
 * WorkerPool → workers on this node: creates `replicas` workers per pool, removes surplus free
 * ones, registers them as Worker records and keeps `status.replicas`. A worker whose sandbox
 * vanished releases its actor back to its last snapshot.
 */
export class PoolController {
  constructor(private readonly o: PoolControllerOptions) {}

  /** One pass over every pool; safe to run at any time and repeatedly. */
  async reconcile(): Promise<void> {
    const pools = (await this.o.resources.list(WorkerPoolType)).items as WorkerPool[];
    const records = (await this.o.records.listWorkers()).filter((w) => w.node === this.o.node.name);
    const live = new Map((await this.o.node.agent.listWorkers()).map((w) => [w.name, w]));
    for (const w of records) {
      if (!live.has(w.name)) await this.forget(w);
    }
    const known = new Set(pools.map((p) => `${p.metadata.namespace}/${p.metadata.name}`));
    for (const w of records) {
      if (live.has(w.name) && !known.has(`${w.namespace}/${w.pool}`) && !w.actor)
        await this.remove(w);
    }
    for (const pool of pools)
      await this.reconcilePool(
        pool,
        records.filter(
          (w) =>
            w.namespace === pool.metadata.namespace &&
            w.pool === pool.metadata.name &&
            live.has(w.name),
        ),
      );
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

  private async reconcilePool(pool: WorkerPool, workers: Worker[]): Promise<void> {
    const want = pool.spec.replicas;
    let have = workers.length;
    for (; have < want; have++) {
      const name = workerName(pool.metadata.name);
      const info = await this.o.node.agent.createWorker(name);
      await this.o.records.putWorker({
        namespace: pool.metadata.namespace ?? "default",
        pool: pool.metadata.name,
        name,
        uid: randomBytes(8).toString("hex"),
        node: this.o.node.name,
        address: info.address,
        version: 0,
      });
      this.o.logger.info("worker created", {
        pool: pool.metadata.name,
        worker: name,
        address: info.address,
      });
    }
    const surplus = workers.filter((w) => !w.actor).slice(0, Math.max(0, have - want));
    for (const w of surplus) {
      await this.remove(w);
      have--;
    }
    if (pool.status?.replicas !== have) {
      await this.o.resources
        .updateStatus(WorkerPoolType, { ...pool, status: { replicas: have } })
        .catch((err) => {
          if (!isAteError(err, Code.Aborted) && !isAteError(err, Code.NotFound)) throw err;
        });
    }
  }

  private async remove(w: Worker): Promise<void> {
    try {
      await this.o.records.deleteWorker(w); // fails if it was just claimed: then it stays
    } catch (err) {
      if (isAteError(err, Code.Aborted)) return;
      throw err;
    }
    await this.o.node.agent
      .deleteWorker(w.name)
      .catch((err) =>
        this.o.logger.warn("deleting worker failed", { worker: w.name, error: String(err) }),
      );
    this.o.logger.info("worker removed", { pool: w.pool, worker: w.name });
  }

  /** The node lost this worker (e.g. a restart): its actor goes back to its last snapshot. */
  private async forget(w: Worker): Promise<void> {
    if (w.actor) {
      const actor = await this.o.records
        .getActor(w.actor.atespace, w.actor.actorId)
        .catch(() => undefined);
      if (actor?.worker?.name === w.name) {
        const { worker: _w, transition: _t, inProgressSnapshot: _s, ...rest } = actor;
        const back: Actor = {
          ...rest,
          status: actor.latestSnapshot?.type === "LOCAL" ? "PAUSED" : "SUSPENDED",
        };
        await this.o.records.releaseWorker(w, back);
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
