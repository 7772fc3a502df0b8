/** For the controllers' tests: one node "n1" with the real control plane and stores. */
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { type WorkerPool, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";
import type { RestoreRequest, RunRequest, WorkerExit, WorkerInfo } from "../node/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import type { SandboxExit, WorkerSettings } from "../sandbox/index.ts";

/**
 * A no-op node agent that keeps each worker's settings and whose sandboxes can be made to
 * stop on their own (`exit`), as the real agent reports them: the worker empty, `lastExit`
 * set until its next run or restore.
 */
export class ExitingAgent extends NoopNodeAgent {
  readonly settings = new Map<string, WorkerSettings | undefined>();
  readonly exits = new Map<string, WorkerExit>();
  /** Runs once, at the next listWorkers, after its answer is taken (to interleave work). */
  afterNextList?: () => Promise<void>;

  override async createWorker(name: string, settings?: WorkerSettings): Promise<WorkerInfo> {
    this.settings.set(name, settings);
    return super.createWorker(name, settings);
  }
  override async deleteWorker(name: string): Promise<void> {
    this.settings.delete(name);
    this.exits.delete(name);
    await super.deleteWorker(name);
  }
  override async listWorkers(): Promise<WorkerInfo[]> {
    const answer = (await super.listWorkers()).map((w) => {
      const settings = this.settings.get(w.name);
      const lastExit = this.exits.get(w.name);
      return { ...w, ...(settings ? { settings } : {}), ...(lastExit ? { lastExit } : {}) };
    });
    const then = this.afterNextList;
    this.afterNextList = undefined;
    await then?.();
    return answer;
  }
  override async run(req: RunRequest): Promise<WorkerInfo> {
    this.exits.delete(req.worker);
    return super.run(req);
  }
  override async restore(req: RestoreRequest): Promise<WorkerInfo> {
    this.exits.delete(req.worker);
    return super.restore(req);
  }
  /** The worker's sandbox stops on its own. */
  async exit(worker: string, exit: Partial<SandboxExit> = {}): Promise<WorkerExit> {
    const actor = (await super.listWorkers()).find((w) => w.name === worker)?.actor;
    if (!actor) throw new Error(`worker ${worker} runs nothing`);
    await super.stop(worker);
    const e: WorkerExit = {
      reason: "OOMKilled",
      message: "the sandbox went past its memory limit of 128Mi",
      at: new Date().toISOString(),
      ...exit,
      actor,
    };
    this.exits.set(worker, e);
    return e;
  }
}

export function testNode() {
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new ExitingAgent();
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
  });
  const warnings: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (msg) => void warnings.push(msg) };
  return {
    resources,
    records,
    agent,
    cp,
    warnings,
    logger,
    pool: async (name: string) =>
      (await resources.get(WorkerPoolType, "default", name)) as WorkerPool,
    workersOf: async (pool: string) => (await records.listWorkers()).filter((w) => w.pool === pool),
    close: async () => {
      await records.store.close();
      await resources.close();
    },
  };
}
