import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { type BlobStore, openBlobStore } from "../blob/index.ts";
import { AteError, Code } from "../errors/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";
import type { SandboxDriver, SandboxRuntime, WorkerSettings } from "../sandbox/index.ts";
import { downloadSnapshot, readManifest } from "../snapshots/index.ts";
import {
  type ActorIdentity,
  type CheckpointRequest,
  type CheckpointResult,
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
import { unpackDir } from "./files.ts";
import { ImageStore, type PulledImage } from "./images/index.ts";
import { type ActorRecord, NodeLayout } from "./layout.ts";
import { type NodeWorker, NodeWorkers } from "./node-workers.ts";
import { checkRestorable, runtimeUnavailable } from "./restore-checks.ts";
import { fetchRuntime, pullImages } from "./runtime-inputs.ts";
import { type SnapshotTaker, takeSnapshot } from "./take-snapshot.ts";
import { WorkerExits } from "./worker-exits.ts";
import { sandboxSpec } from "./workload.ts";

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

  constructor(private readonly options: NodeAgentOptions) {
    this.log = options.logger ?? silentLogger;
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
      });
    this.images = options.images ?? new ImageStore({ dir: join(options.stateDir, "images") });
    this.arch = options.arch ?? nodeArch();
    this.openStore = options.openBlobStore ?? ((uri) => openBlobStore(uri));
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
   * runs keeps its actor; any other is emptied.
   */
  recover(): Promise<WorkerInfo[]> {
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
    return withCall(options, (signal) => this.runIn(req, signal));
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
      await this.start(worker, driver, runtime, record, images, undefined, signal);
      return { ...this.workers.info(worker), actor: req.actor };
    } finally {
      worker.busy = false;
    }
  }

  checkpoint(req: CheckpointRequest, options?: NodeCallOptions): Promise<CheckpointResult> {
    return withCall(options, (signal) => this.checkpointIn(req, signal));
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
    return withCall(options, (signal) => this.restoreIn(req, signal));
  }

  private async restoreIn(
    req: RestoreRequest,
    signal: AbortSignal | undefined,
  ): Promise<WorkerInfo> {
    this.workers.get(req.worker); // an unknown worker fails before any download
    const store = this.openStore(req.source);
    const manifest = await readManifest(store, req.source, signal);
    // Whose snapshot, scope, arch: refused here, before the worker is held or anything fetched.
    checkRestorable(manifest, req, this.arch);
    const worker = await this.workers.claim(req.worker);
    const tmp = join(this.options.stateDir, "tmp", `restore-${randomBytes(6).toString("hex")}`);
    try {
      const driver = this.driver(manifest.sandboxClass);
      let runtime: SandboxRuntime;
      try {
        runtime = await fetchRuntime(this.assets, driver, manifest.assets, this.arch, signal);
      } catch (err) {
        throw runtimeUnavailable(manifest, req.source, err);
      }
      await downloadSnapshot(store, req.source, manifest, tmp, req.scope, signal);
      const images = await pullImages(this.images, manifest.workload, signal);
      await this.layout.prepareVolumes(req.worker, manifest.workload);
      for (const [name, dir] of Object.entries(
        this.layout.volumeDirs(req.worker, manifest.workload),
      )) {
        const archive = join(tmp, "data", `${name}.tar.gz`);
        if (manifest.snapshotFiles.some((f) => f.name === `data/${name}.tar.gz`))
          await unpackDir(archive, dir);
      }
      const record: ActorRecord = {
        actor: req.actor,
        sandboxClass: manifest.sandboxClass,
        arch: manifest.arch,
        assets: manifest.assets,
        runtimePaths: runtime.assets,
        images: manifest.images,
        workload: manifest.workload,
      };
      await this.start(
        worker,
        driver,
        runtime,
        record,
        images,
        req.scope === "Full" ? join(tmp, "checkpoint") : undefined,
        signal,
      );
      return { ...this.workers.info(worker), actor: req.actor };
    } finally {
      worker.busy = false;
      await rm(tmp, { recursive: true, force: true });
    }
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

  /** The on-node record of the actor a worker runs, if any. */
  record(worker: string): Promise<ActorRecord | undefined> {
    return this.layout.readRecord(worker);
  }

  // --- steps -----------------------------------------------------------------------------

  private async start(
    worker: NodeWorker,
    driver: SandboxDriver,
    runtime: SandboxRuntime,
    record: ActorRecord,
    images: Record<string, PulledImage>,
    checkpointDir: string | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    const identityDir = await this.layout.writeIdentity(worker.name, record.actor);
    const spec = sandboxSpec({
      workload: record.workload,
      images,
      volumes: this.layout.volumeDirs(worker.name, record.workload),
      identityDir,
      hostname: record.actor.actorId,
      logPath: this.layout.logPath(record.actor),
    });
    await this.layout.writeRecord(worker.name, record);
    const start = this.exits.start(worker.name, signal);
    try {
      if (checkpointDir) await driver.restore(worker, runtime, spec, checkpointDir, start.signal);
      else await driver.run(worker, runtime, spec, start.signal);
      await start.ready(worker.address, record.workload);
    } catch (err) {
      const tail = await this.layout.logTail(record.actor, 10);
      await driver.stop(worker, runtime).catch(() => {});
      await this.layout.wipe(worker.name);
      const e = AteError.from(err, Code.Internal);
      throw new AteError(
        e.code,
        `${e.message}${tail ? `\nlast log lines of ${record.actor.actorId}:\n${tail}` : ""}`,
        e.details,
        { cause: err },
      );
    } finally {
      start.done();
    }
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
