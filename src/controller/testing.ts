/** For the controllers' tests: nodes in a registry with the real control plane and stores. */
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { WorkerPoolType } from "../api/v1alpha1/index.ts";
import { ControlPlane, NodeRegistry } from "../controlplane/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";
import type {
  NodeRegistration,
  RestoreRequest,
  RunRequest,
  WorkerExit,
  WorkerInfo,
} from "../node/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import type { SandboxExit, WorkerSettings } from "../sandbox/index.ts";
import { GoldenController } from "./golden-controller.ts";
import { PoolController } from "./pool-controller.ts";

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

  constructor() {
    super("169.254.64."); // where ate's workers live: nodes with an entry point may report no other
  }

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

/** A test node's registration, beyond its name (defaults: room for 100 workers, gvisor, amd64). */
export interface TestNodeSpec {
  name: string;
  workers?: number;
  source?: string;
  memoryBytes?: number;
  cpuMillis?: number;
  sandboxClasses?: string[];
  arch?: string;
  entry?: string;
  cachedAssets?: string[];
  cachedImages?: string[];
}

export function registrationOf(spec: TestNodeSpec): NodeRegistration {
  // A node on the network has an entry point on its own address (default 10.0.0.1:7481).
  const address = spec.entry?.split(":")[0] ?? "10.0.0.1";
  return {
    name: spec.name,
    url: `http://${address}:7444`,
    entry: spec.entry ?? `${address}:7481`,
    address,
    arch: spec.arch ?? "amd64",
    sandboxClasses: spec.sandboxClasses ?? ["gvisor"],
    capacity: {
      workers: spec.workers ?? 100,
      source: spec.source ?? `--max-workers ${spec.workers ?? 100}`,
      memoryBytes: spec.memoryBytes ?? 64 * 1024 ** 3,
      cpuMillis: spec.cpuMillis ?? 64_000,
    },
    cachedAssets: spec.cachedAssets ?? [],
    cachedImages: spec.cachedImages ?? [],
  };
}

/** A clock the test moves. */
export function fakeClock(start = Date.now()) {
  let t = start;
  return {
    now: () => new Date(t),
    advance: (ms: number) => {
      t += ms;
    },
  };
}

/**
 * Nodes registered in a NodeRegistry (on a fake clock) over the real control plane and
 * stores, each with its own no-op agent; `join` adds one later, `heartbeat` keeps one live.
 */
export async function testCluster(specs: TestNodeSpec[] = [{ name: "n1" }]) {
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const clock = fakeClock();
  const warnings: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (msg) => void warnings.push(msg) };
  const agents = new Map<string, ExitingAgent>();
  const registry = new NodeRegistry({
    records,
    clock,
    logger,
    dial: (r) => {
      const agent = agents.get(r.name);
      if (!agent) throw new Error(`no test agent ${r.name}`);
      return agent;
    },
  });
  const cp = new ControlPlane({ records, resources, nodes: registry, clock });
  const join = async (spec: TestNodeSpec) => {
    if (!agents.has(spec.name)) agents.set(spec.name, new ExitingAgent());
    return registry.register(registrationOf(spec), `secret-of-${spec.name}-0123456789`);
  };
  for (const spec of specs) await join(spec);
  const nodes = new Map(specs.map((s) => [s.name, s]));
  return {
    resources,
    records,
    registry,
    agents,
    /** The first node's agent. */
    agent: agents.get(specs[0]?.name ?? "") as ExitingAgent,
    cp,
    clock,
    warnings,
    logger,
    join: async (spec: TestNodeSpec) => {
      nodes.set(spec.name, spec);
      return join(spec);
    },
    heartbeat: (name: string) => registry.heartbeat(registrationOf(nodes.get(name) ?? { name })),
    pool: (name: string) => resources.get(WorkerPoolType, "default", name),
    workersOf: async (pool: string) => (await records.listWorkers()).filter((w) => w.pool === pool),
    close: async () => {
      await records.store.close();
      await resources.close();
    },
  };
}

/** One node "n1" (see testCluster). */
export function testNode(spec: Omit<TestNodeSpec, "name"> = {}) {
  return testCluster([{ name: "n1", ...spec }]);
}

/** One pass of the pool controller, then the golden one (no warm-up), over a testCluster. */
export function controllerPass(c: Awaited<ReturnType<typeof testCluster>>): () => Promise<void> {
  const { resources, records, registry: nodes, clock, logger } = c;
  const golden = new GoldenController({
    resources,
    controlPlane: c.cp,
    nodes,
    clock,
    logger,
    warmupMs: 0,
  });
  const pools = new PoolController({ resources, records, nodes, clock, logger });
  return async () => {
    await pools.reconcile();
    await golden.reconcile();
  };
}
