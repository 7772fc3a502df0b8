import { join } from "node:path";
import { type BlobStore, openBlobStore } from "../blob/index.ts";
import { AteError, Code } from "../errors/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";
import { meteredBlobStore, NodeMetrics, type Registry } from "../metrics/index.ts";
import type { SandboxDriver, WorkerSettings } from "../sandbox/index.ts";
import { inSpan } from "../tracing/index.ts";
import {
  type ActorIdentity,
  type CheckpointRequest,
  type CheckpointResult,
  type InPlaceRequest,
  type LocalSnapshots,
  maxLogPieceBytes,
  type NodeAgentApi,
  type NodeCallOptions,
  type NodeDescription,
  type NodeLogsOptions,
  type RestoreRequest,
  type RunRequest,
  type WorkerInfo,
} from "./api.ts";
import { type AssetBearerToken, AssetCache, assetsForArch, nodeArch } from "./assets/index.ts";
import { withCall } from "./call-options.ts";
import { type CombinedRestorer, restoreCombined } from "./combined-restore.ts";
import { ImageStore } from "./images/index.ts";
import { type InPlaceSwitcher, switchInPlace } from "./in-place.ts";
import { type ActorRecord, NodeLayout } from "./layout.ts";
import { listLocalSnapshots, removeLocalSnapshot, sweepLocalLeftovers } from "./local-snapshots.ts";
import { NodeWorkers } from "./node-workers.ts";
import { restoreSnapshot, type SnapshotRestorer } from "./restore-snapshot.ts";
import { fetchRuntime, pullImages } from "./runtime-inputs.ts";
import { type SandboxStart, startSandbox } from "./start-sandbox.ts";
import { type SnapshotTaker, takeSnapshot } from "./take-snapshot.ts";
import { WorkerExits } from "./worker-exits.ts";

export interface NodeAgentOptions {
  /** Everything the agent keeps on the node lives here. */
  stateDir: string;
  /** Sandbox drivers by class (gvisor; microvm later). */
  drivers: SandboxDriver[];
  assets?: AssetCache;
  images?: ImageStore;
  /** Go architecture of this node; default this machine's. */
  arch?: string;
  /** Snapshot files uploaded at once. Default 4. */
  uploadConcurrency?: number;
  /** How long connections may drain before a checkpoint resets them. Default 5000 ms. */
  drainTimeoutMs?: number;
  /**
   * Directories file:// assets may be read from (symlinks and `..` resolved first). Default:
   * the directory of this machine's runsc. Ignored when `assets` is given.
   */
  assetDirs?: string[];
  /**
   * http(s) asset hosts that may be reached even at loopback, link-local, unspecified, node or
   * worker addresses (all refused otherwise). Ignored when `assets` is given.
   */
  assetAllowHosts?: string[];
  /**
   * Bearer tokens per asset origin (the control plane's, with this node's token); each
   * origin's host is allowed too. Ignored when `assets` is given.
   */
  assetBearerTokens?: AssetBearerToken[];
  /** Asset download limits. Defaults: connect 10 s, idle 30 s, total 10 min. */
  assetTimeouts?: { connectMs?: number; idleMs?: number; totalMs?: number };
  openBlobStore?: (uri: string) => BlobStore;
  logger?: Logger;
  /**
   * Where the agent registers its metrics (NodeMetrics), served on the agent's port. Default:
   * a registry of its own (`ate up`'s API shows it too).
   */
  metricsRegistry?: Registry;
  /** A worker's sandbox stopped on its own (OOM, exit): the worker is free, `lastExit` says why. */
  onWorkerExit?: (worker: WorkerInfo) => void;
}

/**
 * The node agent: owns this node's workers and runs, checkpoints and restores actors in them.
 * The runtime an actor boots with is resolved to cached files by sha256 and recorded on the
 * node; every snapshot pins it in its manifest, and a restore uses the manifest's runtime.
 */
export class NodeAgent implements NodeAgentApi {
  readonly arch: string;
  private readonly drivers = new Map<string, SandboxDriver>();
  readonly assets: AssetCache;
  readonly images: ImageStore;
  private readonly openStore: (uri: string) => BlobStore;
  private readonly log: Logger;
  private readonly layout: NodeLayout;
  private readonly workers: NodeWorkers;
  private readonly exits: WorkerExits;
  private readonly snapshots: SnapshotTaker;
  /** Checkpoint and restore latency, snapshot bytes, asset cache hits and misses. */
  readonly metrics: NodeMetrics;

  constructor(options: NodeAgentOptions) {
    this.log = options.logger ?? silentLogger;
    this.metrics = new NodeMetrics(options.metricsRegistry);
    this.layout = new NodeLayout(options.stateDir);
    this.layout.securePrivateState(["assets", "images"]);
    this.workers = new NodeWorkers(this.drivers, this.layout, this.log);
    this.exits = new WorkerExits(this.workers, this.layout, this.log, options.onWorkerExit);
    for (const d of options.drivers) {
      this.drivers.set(d.sandboxClass, d);
      d.onExit?.((worker, exit) => this.exits.handle(worker, exit));
    }
    const t = options.assetTimeouts ?? {};
    this.assets =
      options.assets ??
      new AssetCache({
        dir: join(options.stateDir, "assets"),
        ...(options.assetDirs ? { fileDirs: options.assetDirs } : {}),
        ...(options.assetAllowHosts ? { allowHosts: options.assetAllowHosts } : {}),
        ...(options.assetBearerTokens ? { bearerTokens: options.assetBearerTokens } : {}),
        blockedAddresses: () => this.workers.addresses(),
        ...(t.connectMs !== undefined ? { connectTimeoutMs: t.connectMs } : {}),
        ...(t.idleMs !== undefined ? { idleTimeoutMs: t.idleMs } : {}),
        ...(t.totalMs !== undefined ? { totalTimeoutMs: t.totalMs } : {}),
        onLookup: (hit) => this.metrics.assetLookup(hit),
      });
    this.images = options.images ?? new ImageStore({ dir: join(options.stateDir, "images") });
    this.arch = options.arch ?? nodeArch();
    const open = options.openBlobStore ?? ((uri) => openBlobStore(uri));
    this.openStore = (uri) => meteredBlobStore(open(uri), this.metrics);
    this.snapshots = {
      stateDir: options.stateDir,
      layout: this.layout,
      log: this.log,
      openStore: this.openStore,
      uploadConcurrency: options.uploadConcurrency ?? 4,
      drainTimeoutMs: options.drainTimeoutMs ?? 5000,
    };
  }

  createWorker(
    name: string,
    settings?: WorkerSettings,
    options?: NodeCallOptions,
  ): Promise<WorkerInfo> {
    return withCall(options, () => this.workers.create(name, settings));
  }

  deleteWorker(name: string, options?: NodeCallOptions): Promise<void> {
    return withCall(options, () => this.workers.delete(name));
  }

  /**
   * Lets go of this node's sandboxes without stopping them (they keep running for the next
   * agent on this state dir, which recovers them): resolves once no driver of it watches a
   * sandbox, relays its DNS or checks the host rules from this process.
   */
  async close(): Promise<void> {
    await Promise.all([...this.drivers.values()].map((d) => d.close?.()));
  }

  /**
   * Takes the node's workers back after the agent restarted: a worker whose sandbox still
   * runs keeps its actor; any other is emptied. Snapshots the last agent cut short go too.
   */
  async recover(): Promise<WorkerInfo[]> {
    await sweepLocalLeftovers(this.layout, this.log);
    return this.workers.recover();
  }

  listWorkers(options?: NodeCallOptions): Promise<WorkerInfo[]> {
    return withCall(options, () => this.workers.list());
  }

  /** What this node has and can run, for its registration. */
  async describe(): Promise<NodeDescription> {
    return {
      arch: this.arch,
      sandboxClasses: [...this.drivers.keys()],
      cachedAssets: await this.assets.cached(),
      cachedImages: await this.images.references(),
    };
  }

  run(req: RunRequest, options?: NodeCallOptions): Promise<WorkerInfo> {
    return inSpan("node", "run", spanAttributes(req), () =>
      withCall(options, (signal) => this.runIn(req, signal)),
    );
  }

  private async runIn(req: RunRequest, signal: AbortSignal | undefined): Promise<WorkerInfo> {
    const worker = await this.workers.claim(req.worker);
    try {
      const driver = this.driver(req.sandboxAssets.sandboxClass);
      const assets = assetsForArch(
        req.sandboxAssets.assets,
        this.arch,
        `the ${req.sandboxAssets.sandboxClass} runtime`,
      );
      const runtime = await fetchRuntime(this.assets, driver, assets, this.arch, signal);
      const images = await pullImages(this.images, req.workload, signal);
      await this.layout.prepareVolumes(req.worker, req.workload);
      const record: ActorRecord = {
        actor: req.actor,
        sandboxClass: driver.sandboxClass,
        arch: this.arch,
        assets,
        runtimePaths: runtime.assets,
        images: Object.fromEntries(req.workload.containers.map((c) => [c.name, c.image])),
        workload: req.workload,
      };
      const { actorToken } = req;
      // A cold boot: no checkpoint to restore.
      const start = { worker, driver, runtime, record, images, checkpointDir: undefined };
      await this.start({ ...start, actorToken }, signal);
      return { ...this.workers.info(worker), actor: req.actor };
    } finally {
      worker.busy = false;
    }
  }

  checkpoint(req: CheckpointRequest, options?: NodeCallOptions): Promise<CheckpointResult> {
    const kind = req.destination.kind === "local" ? "pause" : "suspend";
    return inSpan("node", "checkpoint", { ...spanAttributes(req), "ate.kind": kind }, () =>
      withCall(options, (signal) =>
        this.metrics.checkpoint(kind, () => this.checkpointIn(req, signal)),
      ),
    );
  }

  private async checkpointIn(
    req: CheckpointRequest,
    signal: AbortSignal | undefined,
  ): Promise<CheckpointResult> {
    const worker = this.workers.get(req.worker);
    const record = await this.record(req.worker);
    if (!record)
      throw new AteError(
        Code.FailedPrecondition,
        `worker ${req.worker} runs no actor; nothing to checkpoint`,
      );
    if (
      record.actor.actorId !== req.actor.actorId ||
      record.actor.atespace !== req.actor.atespace
    ) {
      throw new AteError(
        Code.FailedPrecondition,
        `worker ${req.worker} runs actor ${record.actor.atespace}/${record.actor.actorId}, not ${req.actor.atespace}/${req.actor.actorId}`,
      );
    }
    if (worker.busy)
      throw new AteError(Code.Aborted, `worker ${req.worker} is busy with another operation`);
    worker.busy = true;
    try {
      return await takeSnapshot(
        this.snapshots,
        worker,
        record,
        this.driver(record.sandboxClass),
        req,
        signal,
      );
    } finally {
      worker.busy = false;
    }
  }

  restore(req: RestoreRequest, options?: NodeCallOptions): Promise<WorkerInfo> {
    const { base } = req;
    // One span per restore: its steps (restore.manifest … restore.sandbox, restore.ready with
    // the readyz probes) are its children.
    const attributes = { ...spanAttributes(req), "ate.scope": req.scope, "ate.combined": !!base };
    return inSpan("node", "restore", attributes, () =>
      base
        ? withCall(options, (s) =>
            this.metrics.restore(() => restoreCombined(this.combined(), { ...req, base }, s)),
          )
        : withCall(options, (signal) => this.metrics.restore(() => this.restoreIn(req, signal))),
    );
  }

  /** The golden's memory with the actor's data laid in: see combined-restore.ts. */
  private combined(): CombinedRestorer {
    return { ...this.restorer(), restoreData: (r, s) => this.restoreIn(r, s) };
  }

  private restoreIn(req: RestoreRequest, signal: AbortSignal | undefined): Promise<WorkerInfo> {
    return restoreSnapshot(this.restorer(), req, signal);
  }

  private restorer(): SnapshotRestorer {
    return {
      arch: this.arch,
      layout: this.layout,
      workers: this.workers,
      log: this.log,
      assets: this.assets,
      images: this.images,
      openStore: this.openStore,
      driver: (c) => this.driver(c),
      start: (start, s) => this.start(start, s),
    };
  }

  stop(name: string, options?: NodeCallOptions): Promise<void> {
    return withCall(options, () => this.stopIn(name));
  }

  private async stopIn(name: string): Promise<void> {
    const worker = this.workers.get(name); // an unknown name touches nothing
    const record = await this.record(name);
    for (const d of this.drivers.values()) {
      await d.stop(
        worker,
        record && d.sandboxClass === record.sandboxClass
          ? { sandboxClass: record.sandboxClass, assets: record.runtimePaths }
          : undefined,
      );
    }
    await this.layout.wipe(name);
  }

  freeze(req: InPlaceRequest, options?: NodeCallOptions): Promise<void> {
    return withCall(options, () => switchInPlace(this.inPlace(), req, "pause"));
  }

  thaw(req: InPlaceRequest, options?: NodeCallOptions): Promise<void> {
    return withCall(options, () => switchInPlace(this.inPlace(), req, "resume"));
  }

  /** The frozen tier: see in-place.ts. */
  private inPlace(): InPlaceSwitcher {
    return {
      workers: this.workers,
      log: this.log,
      record: (w) => this.record(w),
      driver: (c) => this.driver(c),
    };
  }

  async *logs(actor: ActorIdentity, options: NodeLogsOptions = {}): AsyncGenerator<Uint8Array> {
    let from = options.from ?? 0;
    for (;;) {
      options.signal?.throwIfAborted();
      const piece = await this.layout.readLog(actor, from);
      if (piece.length) yield piece;
      from += piece.length;
      if (piece.length < maxLogPieceBytes) return; // a short piece is the end, for now
    }
  }

  listSnapshots(options?: NodeCallOptions): Promise<LocalSnapshots> {
    return withCall(options, () => listLocalSnapshots(this.layout));
  }

  deleteSnapshot(uri: string, options?: NodeCallOptions): Promise<number> {
    return withCall(options, () => removeLocalSnapshot(this.layout, uri));
  }

  /** The on-node record of the actor a worker runs, if any. */
  record(worker: string): Promise<ActorRecord | undefined> {
    return this.layout.readRecord(worker);
  }

  private start(start: SandboxStart, signal?: AbortSignal): Promise<void> {
    return startSandbox({ layout: this.layout, exits: this.exits, log: this.log }, start, signal);
  }

  private driver(sandboxClass: string): SandboxDriver {
    const d = this.drivers.get(sandboxClass);
    if (!d)
      throw new AteError(
        Code.FailedPrecondition,
        `sandbox class "${sandboxClass}" is not supported on this node (supported: ${[...this.drivers.keys()].join(", ")})`,
      );
    return d;
  }
}

/** What a node span says of its call: the worker and the actor. */
function spanAttributes(req: { worker: string; actor: ActorIdentity }) {
  return {
    "ate.worker": req.worker,
    "ate.atespace": req.actor.atespace,
    "ate.actor": req.actor.actorId,
  };
}
