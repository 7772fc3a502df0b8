import { readFile, rm } from "node:fs/promises";
import { AteError, Code } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import type { SandboxDriver, WorkerRef, WorkerSettings } from "../sandbox/index.ts";
import type { WorkerExit, WorkerInfo } from "./api.ts";
import { type NodeLayout, writeJsonAtomic } from "./layout.ts";

export interface NodeWorker extends WorkerRef {
  address: string;
  /** An operation (run, checkpoint, restore) holds the worker. */
  busy?: boolean;
  /** The last sandbox here that stopped on its own, until the next run or restore. */
  lastExit?: WorkerExit;
}

/** What workers.json keeps of a worker. */
type SavedWorker = Pick<NodeWorker, "name" | "index" | "address" | "settings" | "lastExit">;

/**
 * A node's workers: their names, network indexes, addresses, settings and last exits, kept in
 * workers.json so an agent restart finds them again; which actor each runs is its on-node record.
 */
export class NodeWorkers {
  private readonly workers = new Map<string, NodeWorker>();

  constructor(
    private readonly drivers: ReadonlyMap<string, SandboxDriver>,
    private readonly layout: NodeLayout,
    private readonly log: Logger,
  ) {}

  async create(name: string, settings?: WorkerSettings): Promise<WorkerInfo> {
    if (!/^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/.test(name)) {
      throw new AteError(
        Code.InvalidArgument,
        `worker name "${name}" must be a DNS label of at most 42 characters`,
      );
    }
    if (this.workers.has(name))
      throw new AteError(Code.AlreadyExists, `worker ${name} already exists on this node`);
    const used = new Set([...this.workers.values()].map((w) => w.index));
    let index = 0;
    while (used.has(index)) index++;
    const worker: NodeWorker = { name, index, address: "", ...(settings ? { settings } : {}) };
    this.workers.set(name, worker);
    try {
      // Workers are prepared for every class the node supports; addresses do not depend on it.
      worker.address = (await this.firstDriver().prepareWorker(worker)).address;
      await rm(this.layout.workerDir(name), { recursive: true, force: true });
      await this.save();
      return this.info(worker);
    } catch (err) {
      this.workers.delete(name);
      throw err;
    }
  }

  async delete(name: string): Promise<void> {
    const worker = this.get(name);
    for (const d of this.drivers.values()) await d.releaseWorker(worker);
    await rm(this.layout.workerDir(name), { recursive: true, force: true });
    this.workers.delete(name);
    await this.save();
  }

  /**
   * Takes the node's workers back after the agent restarted: a worker whose sandbox still
   * runs keeps its actor; any other is emptied (its actor goes back to its last snapshot, as
   * the control plane's reconciler finds).
   */
  async recover(): Promise<WorkerInfo[]> {
    const text = await readFile(this.layout.workersFile, "utf8").catch(() => "[]");
    const [first] = this.drivers.values();
    for (const saved of JSON.parse(text) as SavedWorker[]) {
      const worker: NodeWorker = { ...saved };
      this.workers.set(worker.name, worker);
      const record = await this.layout.readRecord(worker.name);
      const driver = record ? this.drivers.get(record.sandboxClass) : undefined;
      const runtime = record
        ? { sandboxClass: record.sandboxClass, assets: record.runtimePaths }
        : undefined;
      if (driver && runtime && (await driver.adopt(worker, runtime).catch(() => false))) {
        this.log.info("worker recovered with its actor", {
          worker: worker.name,
          actor: record?.actor.actorId,
        });
        continue;
      }
      try {
        if (driver && runtime) await driver.stop(worker, runtime);
        else await first?.stop(worker);
      } catch {
        // The worker's network is gone (e.g. after a reboot): build it again.
        worker.address = (await first?.prepareWorker(worker))?.address ?? worker.address;
      }
      await this.layout.wipe(worker.name);
    }
    await this.save();
    return this.list();
  }

  async list(): Promise<WorkerInfo[]> {
    const out: WorkerInfo[] = [];
    for (const w of this.workers.values()) {
      const record = await this.layout.readRecord(w.name);
      out.push({ ...this.info(w), ...(record ? { actor: record.actor } : {}) });
    }
    return out;
  }

  /** A worker as the API shows it, without its actor. */
  info(w: NodeWorker): WorkerInfo {
    return {
      name: w.name,
      address: w.address,
      ...(w.settings ? { settings: w.settings } : {}),
      ...(w.lastExit ? { lastExit: w.lastExit } : {}),
    };
  }

  /** The worker, if it exists. */
  find(name: string): NodeWorker | undefined {
    return this.workers.get(name);
  }

  /** Records the exit of the worker's sandbox (its record already wiped). */
  async recordExit(worker: NodeWorker, exit: WorkerExit): Promise<WorkerInfo> {
    worker.lastExit = exit;
    await this.save();
    return this.info(worker);
  }

  /** The workers' addresses on the node (off limits to asset downloads). */
  addresses(): string[] {
    return [...this.workers.values()].map((w) => w.address).filter((a) => a);
  }

  get(name: string): NodeWorker {
    const w = this.workers.get(name);
    if (!w) throw new AteError(Code.NotFound, `worker ${name} does not exist on this node`);
    return w;
  }

  /** Holds a free worker (no actor, no operation) for a run or restore. */
  async claim(name: string): Promise<NodeWorker> {
    const worker = this.get(name);
    const record = await this.layout.readRecord(name);
    if (worker.busy || record) {
      throw new AteError(
        Code.FailedPrecondition,
        `worker ${name} is not free: it runs ${record?.actor.actorId ?? "an operation"}`,
      );
    }
    worker.busy = true;
    if (worker.lastExit) {
      delete worker.lastExit; // the worker moves on: the control plane has heard of it
      await this.save().catch(() => {});
    }
    return worker;
  }

  private firstDriver(): SandboxDriver {
    const [first] = this.drivers.values();
    if (!first)
      throw new AteError(Code.FailedPrecondition, "this node agent has no sandbox driver");
    return first;
  }

  private async save(): Promise<void> {
    const list = [...this.workers.values()].map(
      ({ name, index, address, settings, lastExit }): SavedWorker => ({
        name,
        index,
        address,
        ...(settings ? { settings } : {}),
        ...(lastExit ? { lastExit } : {}),
      }),
    );
    await writeJsonAtomic(this.layout.workersFile, list);
  }
}
