// A node agent that does no work: it keeps worker records and answers at once. For
// benchmarks of the control plane alone (sandbox cost excluded) and for control-plane unit
// tests; never a stand-in for the real agent in integration tests.
import { AteError, Code } from "../../src/errors/index.ts";
import type {
  ActorIdentity,
  CheckpointRequest,
  CheckpointResult,
  InPlaceRequest,
  LocalSnapshot,
  LocalSnapshots,
  NodeAgentApi,
  NodeLogsOptions,
  RestoreRequest,
  RunRequest,
  WorkerInfo,
} from "../../src/node/index.ts";
import type { WorkerSettings } from "../../src/sandbox/index.ts";

export class NoopNodeAgent implements NodeAgentApi {
  private readonly workers = new Map<string, WorkerInfo>();
  readonly calls = { run: 0, restore: 0, checkpoint: 0 };
  private n = 0;

  /** Workers get addresses `<network><2..251>`: loopback ones by default, to serve on. */
  constructor(private readonly network = "127.0.0.") {}

  async createWorker(name: string, settings?: WorkerSettings): Promise<WorkerInfo> {
    const info = {
      name,
      address: `${this.network}${(this.n++ % 250) + 2}`,
      ...(settings ? { settings } : {}),
    };
    this.workers.set(name, info);
    return info;
  }
  async deleteWorker(name: string): Promise<void> {
    this.workers.delete(name);
  }
  async listWorkers(): Promise<WorkerInfo[]> {
    return [...this.workers.values()];
  }
  private take(name: string, req: { actor: WorkerInfo["actor"] }): WorkerInfo {
    const w = this.workers.get(name);
    if (!w) throw new AteError(Code.NotFound, `worker ${name} does not exist on this node`);
    if (w.actor) throw new AteError(Code.FailedPrecondition, `worker ${name} is not free`);
    w.actor = req.actor;
    delete w.lastExit;
    return w;
  }
  async run(req: RunRequest): Promise<WorkerInfo> {
    this.calls.run++;
    return this.take(req.worker, req);
  }
  async restore(req: RestoreRequest): Promise<WorkerInfo> {
    this.calls.restore++;
    return this.take(req.worker, req);
  }
  async checkpoint(req: CheckpointRequest): Promise<CheckpointResult> {
    this.calls.checkpoint++;
    const w = this.workers.get(req.worker);
    if (w) delete w.actor;
    this.frozen.delete(req.worker);
    const uri =
      req.destination.kind === "external"
        ? req.destination.uriPrefix
        : `file:///noop/${req.actor.atespace}/${req.actor.actorId}/${++this.pauses}`;
    if (req.destination.kind === "local")
      this.local.set(uri, { uri, bytes: 100, modifiedAt: Date.now() });
    return { uri, local: req.destination.kind === "local", files: [] };
  }
  async stop(name: string): Promise<void> {
    this.frozen.delete(name);
    const w = this.workers.get(name);
    if (w) delete w.actor;
  }
  /** Frozen workers (the frozen tier), for tests of who freezes and thaws. */
  readonly frozen = new Set<string>();
  async freeze(req: InPlaceRequest): Promise<void> {
    this.runs(req, "freeze");
    this.frozen.add(req.worker);
  }
  async thaw(req: InPlaceRequest): Promise<void> {
    this.runs(req, "thaw");
    this.frozen.delete(req.worker);
  }
  /** As the real agent: only the sandbox of the actor named. */
  private runs(req: InPlaceRequest, what: string): void {
    const actor = this.workers.get(req.worker)?.actor;
    if (!actor)
      throw new AteError(
        Code.FailedPrecondition,
        `worker ${req.worker} runs no actor; nothing to ${what}`,
      );
    if (actor.actorId !== req.actor.actorId || actor.atespace !== req.actor.atespace)
      throw new AteError(
        Code.FailedPrecondition,
        `worker ${req.worker} runs actor ${actor.atespace}/${actor.actorId}, not ${req.actor.atespace}/${req.actor.actorId}`,
      );
  }
  async *logs(_actor: ActorIdentity, _options?: NodeLogsOptions): AsyncGenerator<Uint8Array> {}
  /** The snapshots its pauses kept (as a node keeps them), by URI. */
  readonly local = new Map<string, LocalSnapshot>();
  private pauses = 0;
  async listSnapshots(): Promise<LocalSnapshots> {
    return { location: "file:///noop", snapshots: [...this.local.values()] };
  }
  async deleteSnapshot(uri: string): Promise<number> {
    const s = this.local.get(uri);
    this.local.delete(uri);
    return s?.bytes ?? 0;
  }
}
