// A node agent for wire tests: it records every call as it arrived (to compare with what was
// sent), answers what the test sets, and can hold a call until its signal aborts (to see that
// a caller's cancellation or deadline reaches the node's work). No sandbox work.
import { AteError, Code } from "../../src/errors/index.ts";
import type {
  ActorIdentity,
  CheckpointRequest,
  CheckpointResult,
  InPlaceRequest,
  LocalSnapshots,
  NodeAgentApi,
  NodeCallOptions,
  NodeLogsOptions,
  RestoreRequest,
  RunRequest,
  WorkerInfo,
} from "../../src/node/index.ts";
import type { WorkerSettings } from "../../src/sandbox/index.ts";

export interface RecordedCall {
  method: string;
  args: unknown[];
  /** The signal the call ran with (undefined: none). */
  signal: AbortSignal | undefined;
}

export class RecordingNodeAgent implements NodeAgentApi {
  readonly calls: RecordedCall[] = [];
  /** What run, restore and createWorker answer. */
  worker: WorkerInfo = { name: "w1", address: "10.0.0.2" };
  workers: WorkerInfo[] = [];
  checkpointResult: CheckpointResult = { uri: "file:///x", local: true, files: [] };
  /** Each actor's output, by actor id. */
  output = new Map<string, Uint8Array>();
  /** Log pieces are this big (the real agent's maxLogPieceBytes by default). */
  pieceBytes = 1024 * 1024;
  /** Methods that hold until their signal aborts. */
  readonly holding = new Set<string>();
  /** Methods that fail with this error. */
  readonly failing = new Map<string, AteError>();
  private waiters: ((c: RecordedCall) => void)[] = [];

  /** Resolves with the next call that starts. */
  nextCall(): Promise<RecordedCall> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private async answer<T>(
    method: string,
    args: unknown[],
    options: NodeCallOptions | undefined,
    value: () => T,
  ): Promise<T> {
    const call: RecordedCall = { method, args, signal: options?.signal };
    this.calls.push(call);
    for (const w of this.waiters.splice(0)) w(call);
    const failure = this.failing.get(method);
    if (failure) throw failure;
    if (this.holding.has(method)) {
      const signal = options?.signal;
      if (!signal) throw new AteError(Code.Internal, `${method} held without a signal`);
      await new Promise((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    }
    return value();
  }

  createWorker(name: string, settings?: WorkerSettings, o?: NodeCallOptions) {
    return this.answer("createWorker", [name, settings], o, () => this.worker);
  }
  deleteWorker(name: string, o?: NodeCallOptions) {
    return this.answer("deleteWorker", [name], o, () => undefined);
  }
  listWorkers(o?: NodeCallOptions) {
    return this.answer("listWorkers", [], o, () => this.workers);
  }
  run(req: RunRequest, o?: NodeCallOptions) {
    return this.answer("run", [req], o, () => this.worker);
  }
  checkpoint(req: CheckpointRequest, o?: NodeCallOptions) {
    return this.answer("checkpoint", [req], o, () => this.checkpointResult);
  }
  restore(req: RestoreRequest, o?: NodeCallOptions) {
    return this.answer("restore", [req], o, () => this.worker);
  }
  stop(worker: string, o?: NodeCallOptions) {
    return this.answer("stop", [worker], o, () => undefined);
  }
  freeze(req: InPlaceRequest, o?: NodeCallOptions) {
    return this.answer("freeze", [req], o, () => undefined);
  }
  thaw(req: InPlaceRequest, o?: NodeCallOptions) {
    return this.answer("thaw", [req], o, () => undefined);
  }
  /** What listSnapshots answers. */
  localSnapshots: LocalSnapshots = { location: "file:///node/snapshots", snapshots: [] };
  listSnapshots(o?: NodeCallOptions) {
    return this.answer("listSnapshots", [], o, () => this.localSnapshots);
  }
  deleteSnapshot(uri: string, o?: NodeCallOptions) {
    return this.answer("deleteSnapshot", [uri], o, () => 7);
  }
  async *logs(actor: ActorIdentity, o: NodeLogsOptions = {}): AsyncGenerator<Uint8Array> {
    const all = await this.answer("logs", [actor, o.from ?? 0], o, () =>
      this.output.get(actor.actorId),
    );
    for (let at = o.from ?? 0; all && at < all.length; at += this.pieceBytes) {
      o.signal?.throwIfAborted();
      yield all.subarray(at, at + this.pieceBytes);
    }
  }
}
