import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BlobStore, openBlobStore } from "../blob/index.ts";
import { AteError, Code } from "../errors/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";
import { privateDir, privateTree } from "../private-files/index.ts";
import type { SandboxDriver, SandboxRuntime, WorkerSettings } from "../sandbox/index.ts";
import type {
  ActorIdentity,
  CheckpointRequest,
  CheckpointResult,
  NodeAgentApi,
  RestoreRequest,
  RunRequest,
  SnapshotFile,
  WorkerInfo,
} from "./api.ts";
import { AssetCache, assetsForArch, nodeArch } from "./assets/index.ts";
import { describeFiles, packDir, unpackDir } from "./files.ts";
import { ImageStore, type PulledImage } from "./images/index.ts";
import { type ActorRecord, NodeLayout } from "./layout.ts";
import { manifestFormatVersion, type SnapshotManifest } from "./manifest.ts";
import { type NodeWorker, NodeWorkers } from "./node-workers.ts";
import { checkRestorable, runtimeUnavailable } from "./restore-checks.ts";
import { fetchRuntime, pullImages } from "./runtime-inputs.ts";
import { downloadSnapshot, readManifest, snapshotName, writeSnapshot } from "./snapshot-io.ts";
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
        blockedAddresses: () => this.workers.addresses(),
        ...(t.connectMs !== undefined ? { connectTimeoutMs: t.connectMs } : {}),
        ...(t.idleMs !== undefined ? { idleTimeoutMs: t.idleMs } : {}),
        ...(t.totalMs !== undefined ? { totalTimeoutMs: t.totalMs } : {}),
      });
    this.images = options.images ?? new ImageStore({ dir: join(options.stateDir, "images") });
    this.arch = options.arch ?? nodeArch();
    this.openStore = options.openBlobStore ?? ((uri) => openBlobStore(uri));
  }

  /** Times a step of an operation in the debug log. */
  private async step<T>(
    name: string,
    fields: Record<string, unknown>,
    f: () => Promise<T>,
  ): Promise<T> {
    const t = performance.now();
    try {
      return await f();
    } finally {
      this.log.debug(name, { ...fields, ms: Math.round(performance.now() - t) });
    }
  }

  createWorker(name: string, settings?: WorkerSettings): Promise<WorkerInfo> {
    return this.workers.create(name, settings);
  }

  deleteWorker(name: string): Promise<void> {
    return this.workers.delete(name);
  }

  /**
   * Takes the node's workers back after the agent restarted: a worker whose sandbox still
   * runs keeps its actor; any other is emptied.
   */
  recover(): Promise<WorkerInfo[]> {
    return this.workers.recover();
  }

  listWorkers(): Promise<WorkerInfo[]> {
    return this.workers.list();
  }

  async run(req: RunRequest): Promise<WorkerInfo> {
    const worker = await this.workers.claim(req.worker);
    try {
      const driver = this.driver(req.sandboxAssets.sandboxClass);
      const assets = assetsForArch(
        req.sandboxAssets.assets,
        this.arch,
        `the ${req.sandboxAssets.sandboxClass} runtime`,
      );
      const runtime = await fetchRuntime(this.assets, driver, assets, this.arch, req.signal);
      const images = await pullImages(this.images, req.workload, req.signal);
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
      await this.start(worker, driver, runtime, record, images, undefined, req.signal);
      return { ...this.workers.info(worker), actor: req.actor };
    } finally {
      worker.busy = false;
    }
  }

  async checkpoint(req: CheckpointRequest): Promise<CheckpointResult> {
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
    const driver = this.driver(record.sandboxClass);
    const runtime: SandboxRuntime = {
      sandboxClass: record.sandboxClass,
      assets: record.runtimePaths,
    };
    const external = req.destination.kind === "external";
    const tmp = join(this.options.stateDir, "tmp", `snapshot-${randomBytes(6).toString("hex")}`);
    try {
      const fields = { worker: req.worker, actor: record.actor.actorId };
      if (req.scope === "Full") {
        await this.step("checkpoint.sandbox", fields, () =>
          driver.checkpoint(worker, runtime, join(tmp, "checkpoint"), {
            compress: external,
            drainTimeoutMs: this.options.drainTimeoutMs ?? 5000,
            ...(req.signal ? { signal: req.signal } : {}),
          }),
        );
      } else {
        await driver.stop(worker, runtime);
      }
      await privateDir(tmp);
      // The sandbox is gone: the durableDir contents are final.
      for (const [name, dir] of Object.entries(
        this.layout.volumeDirs(req.worker, record.workload),
      )) {
        await privateDir(join(tmp, "data"));
        await this.step("checkpoint.data", fields, () =>
          packDir(dir, join(tmp, "data", `${name}.tar.gz`)),
        );
      }
      await privateTree(tmp); // memory and files of the actor: root only, wherever kept
      const files = await this.step("checkpoint.hash", fields, () => describeFiles(tmp, tmp));
      const manifest: SnapshotManifest = {
        formatVersion: manifestFormatVersion,
        scope: req.scope,
        actor: record.actor,
        createdAt: new Date().toISOString(),
        arch: record.arch,
        sandboxClass: record.sandboxClass,
        assets: record.assets,
        images: record.images,
        workload: record.workload,
        snapshotFiles: files,
      };
      const localUri = pathToFileURL(
        join(this.layout.snapshotsDir, record.actor.atespace, record.actor.actorId, snapshotName()),
      ).href;
      const uri = req.destination.kind === "external" ? req.destination.uriPrefix : localUri;
      try {
        await this.step("checkpoint.upload", { ...fields, uri }, () =>
          this.upload(tmp, uri, files, manifest, req.signal),
        );
      } catch (err) {
        if (uri === localUri) throw err;
        // The sandbox is gone; never lose its state: keep the snapshot on this node instead.
        await this.upload(tmp, localUri, files, manifest);
        await this.layout.wipe(req.worker);
        throw new AteError(
          Code.Unavailable,
          `uploading the snapshot to ${uri} failed (${(err as Error).message}); it was kept on this node at ${localUri}`,
          [localUri],
          { cause: err },
        );
      }
      await this.step("checkpoint.wipe", fields, () => this.layout.wipe(req.worker));
      return { uri, local: uri === localUri, files };
    } finally {
      worker.busy = false;
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async restore(req: RestoreRequest): Promise<WorkerInfo> {
    this.workers.get(req.worker); // an unknown worker fails before any download
    const store = this.openStore(req.source);
    const manifest = await readManifest(store, req.source, req.signal);
    // Whose snapshot, scope, arch: refused here, before the worker is held or anything fetched.
    checkRestorable(manifest, req, this.arch);
    const worker = await this.workers.claim(req.worker);
    const tmp = join(this.options.stateDir, "tmp", `restore-${randomBytes(6).toString("hex")}`);
    try {
      const driver = this.driver(manifest.sandboxClass);
      let runtime: SandboxRuntime;
      try {
        runtime = await fetchRuntime(this.assets, driver, manifest.assets, this.arch, req.signal);
      } catch (err) {
        throw runtimeUnavailable(manifest, req.source, err);
      }
      await downloadSnapshot(store, req.source, manifest, tmp, req.scope, req.signal);
      const images = await pullImages(this.images, manifest.workload, req.signal);
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
        req.signal,
      );
      return { ...this.workers.info(worker), actor: req.actor };
    } finally {
      worker.busy = false;
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async stop(name: string): Promise<void> {
    const record = await this.record(name);
    const worker = this.workers.get(name);
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

  logs(actor: ActorIdentity, from = 0): Promise<Buffer> {
    return this.layout.readLog(actor, from);
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

  /** Writes a snapshot: on this node by moving its files, elsewhere by uploading them. */
  private async upload(
    dir: string,
    uri: string,
    files: SnapshotFile[],
    manifest: SnapshotManifest,
    signal?: AbortSignal,
  ): Promise<void> {
    const local = uri.startsWith(pathToFileURL(this.layout.snapshotsDir).href);
    await writeSnapshot(this.openStore(uri), dir, files, manifest, {
      ...(local ? { moveTo: fileURLToPath(uri) } : {}),
      concurrency: this.options.uploadConcurrency ?? 4,
      ...(signal ? { signal } : {}),
    });
  }
}
