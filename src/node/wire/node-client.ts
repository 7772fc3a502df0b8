import { type CallOptions, createClient, type Transport } from "@connectrpc/connect";
import { fromConnectError } from "../../errors/connect.ts";
import { AteError, Code } from "../../errors/index.ts";
import { Node } from "../../proto/gen/ateapi/node_pb.ts";
import type { WorkerSettings } from "../../sandbox/index.ts";
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
} from "../api.ts";
import {
  checkpointResultFromWire,
  destinationToWire,
  originToWire,
  scopeToWire,
} from "./snapshot-convert.ts";
import { identityToWire, settingsToWire, workerInfoFromWire } from "./worker-convert.ts";
import { sandboxAssetsToWire, workloadToWire } from "./workload-convert.ts";

/** The call options as connect-es takes them. */
function callOptions(o: NodeCallOptions | undefined): CallOptions {
  return {
    ...(o?.signal ? { signal: o.signal } : {}),
    ...(o?.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
  };
}

/**
 * A NodeAgentApi over the ateapi.Node service on any Transport (HTTP to a node, or in
 * process). Errors come back as AteErrors with the node's codes; an answer that does not
 * decode is INTERNAL, naming the method.
 */
export class NodeClient implements NodeAgentApi {
  private readonly client;

  constructor(
    transport: Transport,
    /** Names the node in errors about its answers. */
    private readonly node = "the node",
  ) {
    this.client = createClient(Node, transport);
  }

  private async call<T, R>(method: string, f: () => Promise<T>, decode: (m: T) => R): Promise<R> {
    let answer: T;
    try {
      answer = await f();
    } catch (err) {
      throw fromConnectError(err);
    }
    try {
      return decode(answer);
    } catch (err) {
      throw new AteError(
        Code.Internal,
        `${this.node} answered ${method} with something ate cannot use: ${(err as Error).message}`,
        [],
        { cause: err },
      );
    }
  }

  createWorker(
    name: string,
    settings?: WorkerSettings,
    options?: NodeCallOptions,
  ): Promise<WorkerInfo> {
    return this.call(
      "CreateWorker",
      () =>
        this.client.createWorker(
          { name, ...(settings ? { settings: settingsToWire(settings) } : {}) },
          callOptions(options),
        ),
      (m) => workerInfoFromWire(m, "worker"),
    );
  }

  deleteWorker(name: string, options?: NodeCallOptions): Promise<void> {
    return this.call(
      "DeleteWorker",
      () => this.client.deleteWorker({ name }, callOptions(options)),
      () => undefined,
    );
  }

  listWorkers(options?: NodeCallOptions): Promise<WorkerInfo[]> {
    return this.call(
      "ListWorkers",
      () => this.client.listWorkers({}, callOptions(options)),
      (m) => m.workers.map((w, i) => workerInfoFromWire(w, `workers[${i}]`)),
    );
  }

  run(req: RunRequest, options?: NodeCallOptions): Promise<WorkerInfo> {
    return this.call(
      "Run",
      () =>
        this.client.run(
          {
            worker: req.worker,
            actor: identityToWire(req.actor),
            workload: workloadToWire(req.workload),
            sandboxAssets: sandboxAssetsToWire(req.sandboxAssets),
            ...(req.actorToken !== undefined ? { actorToken: req.actorToken } : {}),
          },
          callOptions(options),
        ),
      (m) => workerInfoFromWire(m, "worker"),
    );
  }

  checkpoint(req: CheckpointRequest, options?: NodeCallOptions): Promise<CheckpointResult> {
    return this.call(
      "Checkpoint",
      () =>
        this.client.checkpoint(
          {
            worker: req.worker,
            actor: identityToWire(req.actor),
            scope: scopeToWire(req.scope),
            destination: destinationToWire(req.destination),
          },
          callOptions(options),
        ),
      checkpointResultFromWire,
    );
  }

  restore(req: RestoreRequest, options?: NodeCallOptions): Promise<WorkerInfo> {
    return this.call(
      "Restore",
      () =>
        this.client.restore(
          {
            worker: req.worker,
            actor: identityToWire(req.actor),
            source: req.source,
            scope: scopeToWire(req.scope),
            origin: originToWire(req.origin),
            ...(req.base !== undefined ? { base: req.base } : {}),
            ...(req.secretValues ? { secretValues: req.secretValues } : {}),
            ...(req.actorToken !== undefined ? { actorToken: req.actorToken } : {}),
          },
          callOptions(options),
        ),
      (m) => workerInfoFromWire(m, "worker"),
    );
  }

  stop(worker: string, options?: NodeCallOptions): Promise<void> {
    return this.call(
      "Stop",
      () => this.client.stop({ worker }, callOptions(options)),
      () => undefined,
    );
  }

  freeze(req: InPlaceRequest, options?: NodeCallOptions): Promise<void> {
    return this.call(
      "Freeze",
      () =>
        this.client.freeze(
          { worker: req.worker, actor: identityToWire(req.actor) },
          callOptions(options),
        ),
      () => undefined,
    );
  }

  thaw(req: InPlaceRequest, options?: NodeCallOptions): Promise<void> {
    return this.call(
      "Thaw",
      () =>
        this.client.thaw(
          { worker: req.worker, actor: identityToWire(req.actor) },
          callOptions(options),
        ),
      () => undefined,
    );
  }

  listSnapshots(options?: NodeCallOptions): Promise<LocalSnapshots> {
    return this.call(
      "ListSnapshots",
      () => this.client.listSnapshots({}, callOptions(options)),
      (m) => ({
        location: m.location,
        snapshots: m.snapshots.map((s) => ({
          uri: s.uri,
          bytes: Number(s.bytes),
          modifiedAt: Number(s.modifiedAtMs),
        })),
      }),
    );
  }

  deleteSnapshot(uri: string, options?: NodeCallOptions): Promise<number> {
    return this.call(
      "DeleteSnapshot",
      () => this.client.deleteSnapshot({ uri }, callOptions(options)),
      (m) => Number(m.bytes),
    );
  }

  async *logs(actor: ActorIdentity, options: NodeLogsOptions = {}): AsyncGenerator<Uint8Array> {
    const from = options.from ?? 0;
    if (!Number.isSafeInteger(from) || from < 0)
      throw new AteError(
        Code.InvalidArgument,
        `logs from ${from}: must be a byte offset (0 or more)`,
      );
    const stream = this.client.logs(
      { actor: identityToWire(actor), from: BigInt(from) },
      callOptions(options),
    );
    try {
      for await (const chunk of stream) yield chunk.data;
    } catch (err) {
      throw fromConnectError(err);
    }
  }
}
