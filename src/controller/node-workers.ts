import { Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import type { NodeAgentApi, WorkerInfo } from "../node/index.ts";
import { atLastSnapshot, type Records, type Worker } from "../records/index.ts";
import { type ActorSuspender, evacuateWorker } from "./evacuate.ts";
import { returnExitedActors } from "./worker-exits.ts";

export interface NodeWorkersOptions {
  /** The node's name (the `node` of its Worker records). */
  name: string;
  agent: NodeAgentApi;
  records: Records;
  actors?: ActorSuspender;
  logger: Logger;
}

/** Deleted pools' workers emptied at once (each a checkpoint). */
const evacuationConcurrency = 4;

/** How long a node has to list its workers before a pass leaves it alone. */
const listTimeoutMs = 10_000;

/** One node's workers, as its records and its agent have them. */
export class NodeWorkers {
  constructor(private readonly o: NodeWorkersOptions) {}

  /**
   * Brings the node's workers and their records together before pools are placed: a worker
   * whose sandbox vanished or stopped on its own releases its actor back to its last snapshot;
   * the workers of deleted pools (not in `pools`, `namespace/name`) are emptied and removed; a
   * sandbox no record knows (e.g. its records went while the node was lost) is torn down.
   * Returns the node's workers as they are then.
   */
  async tidy(pools: ReadonlySet<string>): Promise<Map<string, WorkerInfo>> {
    const listed = await this.o.agent.listWorkers({ timeoutMs: listTimeoutMs });
    const live = new Map(listed.map((w) => [w.name, w]));
    let records = await this.records();
    for (const w of records) if (!live.has(w.name)) await this.forget(w);
    // Before the pools: a worker freed here is replaced (if unlike its pool) in the same pass.
    const deps = { records: this.o.records, agent: this.o.agent, logger: this.o.logger };
    await returnExitedActors(deps, records, [...live.values()]).catch((err) =>
      this.o.logger.warn("returning exited actors failed", { error: String(err) }),
    );
    records = await this.records();
    const orphans = records.filter(
      (w) => live.has(w.name) && !pools.has(`${w.namespace}/${w.pool}`),
    );
    if (orphans.length) for (const name of await this.evacuate(orphans)) live.delete(name);
    const known = new Set(records.map((w) => w.name));
    for (const info of live.values())
      if (!known.has(info.name) && (await this.removeStray(info))) live.delete(info.name);
    return live;
  }

  /**
   * Removes the node's free workers (records, sandboxes, network), e.g. when it shuts down;
   * workers still holding an actor stay, for recovery.
   */
  async wipe(): Promise<void> {
    const records = await this.records();
    for (const w of records) if (!w.actor) await this.remove(w);
    // Workers the node has but the records lost (e.g. a crash between the two).
    const known = new Set(records.map((w) => w.name));
    for (const w of await this.o.agent.listWorkers())
      if (!known.has(w.name) && !w.actor) await this.o.agent.deleteWorker(w.name);
  }

  /** Removes a free worker; false when it was just claimed (then it stays). */
  async remove(w: Worker): Promise<boolean> {
    try {
      await this.o.records.deleteWorker(w);
    } catch (err) {
      if (isAteError(err, Code.Aborted)) return false;
      throw err;
    }
    await this.o.agent
      .deleteWorker(w.name)
      .catch((err) =>
        this.o.logger.warn("deleting worker failed", { worker: w.name, error: String(err) }),
      );
    this.o.logger.info("worker removed", { pool: w.pool, worker: w.name, node: this.o.name });
    return true;
  }

  private async records(): Promise<Worker[]> {
    return (await this.o.records.listWorkers()).filter((w) => w.node === this.o.name);
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
          node: this.o.name,
          actor: `${actor.atespace}/${actor.actorId}`,
        });
      }
    }
    await this.o.records.deleteWorker(w).catch(() => {});
  }

  /**
   * A sandbox without a Worker record: torn down, unless an actor's record still says it runs
   * there (then only its worker record is missing, and it is left for a person to look at).
   */
  private async removeStray(info: WorkerInfo): Promise<boolean> {
    if (info.actor) {
      const actor = await this.o.records
        .getActor(info.actor.atespace, info.actor.actorId)
        .catch(() => undefined);
      if (actor?.worker?.name === info.name && actor.worker.node === this.o.name) return false;
      await this.o.agent.stop(info.name);
    }
    await this.o.agent.deleteWorker(info.name);
    this.o.logger.warn("removed a sandbox no worker record knows", {
      worker: info.name,
      node: this.o.name,
      ...(info.actor ? { actor: `${info.actor.atespace}/${info.actor.actorId}` } : {}),
    });
    return true;
  }

  /**
   * A deleted pool's workers: free ones are removed; busy ones first have their actor
   * suspended (a few at a time), then are removed. Failures are logged; the next pass retries.
   * Returns the workers removed.
   */
  private async evacuate(workers: Worker[]): Promise<string[]> {
    const queue = [...workers];
    const removed: string[] = [];
    const deps = {
      records: this.o.records,
      agent: this.o.agent,
      logger: this.o.logger,
      ...(this.o.actors ? { actors: this.o.actors } : {}),
    };
    await Promise.all(
      Array.from({ length: Math.min(evacuationConcurrency, queue.length) }, async () => {
        for (let w = queue.shift(); w; w = queue.shift()) {
          try {
            const free = await evacuateWorker(deps, w);
            if (free && (await this.remove(free))) removed.push(free.name);
          } catch (err) {
            this.o.logger.warn("emptying a deleted pool's worker failed; retrying later", {
              worker: w.name,
              error: String(err),
            });
          }
        }
      }),
    );
    return removed;
  }
}
