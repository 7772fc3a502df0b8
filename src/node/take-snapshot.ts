import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BlobStore } from "../blob/index.ts";
import type { Logger } from "../log/index.ts";
import { privateDir, privateTree } from "../private-files/index.ts";
import type { SandboxDriver, SandboxRuntime } from "../sandbox/index.ts";
import {
  manifestFormatVersion,
  redactSecrets,
  type SnapshotManifest,
  snapshotName,
  writeSnapshot,
} from "../snapshots/index.ts";
import type { CheckpointRequest, CheckpointResult, SnapshotFile } from "./api.ts";
import { describeFiles, packDir } from "./files.ts";
import { warmHashThread } from "./hash-thread.ts";
import type { ActorRecord, NodeLayout } from "./layout.ts";
import type { NodeWorker } from "./node-workers.ts";
import { timed, together } from "./steps.ts";

/** What taking a snapshot needs of the node agent. */
export interface SnapshotTaker {
  stateDir: string;
  layout: NodeLayout;
  log: Logger;
  openStore: (uri: string) => BlobStore;
  uploadConcurrency: number;
  drainTimeoutMs: number;
}

/**
 * Checkpoints the actor a (held) worker runs into a snapshot and empties the worker: memory
 * (scope Full), then durableDir archives, hashed into a manifest, written to the destination.
 * The sandbox is gone once its state is taken, so an upload that fails never loses it: the
 * snapshot is kept on the node instead, and the result says so (`local`, `uploadError`).
 */
export async function takeSnapshot(
  t: SnapshotTaker,
  worker: NodeWorker,
  record: ActorRecord,
  driver: SandboxDriver,
  req: CheckpointRequest,
  signal: AbortSignal | undefined,
): Promise<CheckpointResult> {
  const runtime: SandboxRuntime = {
    sandboxClass: record.sandboxClass,
    assets: record.runtimePaths,
  };
  const external = req.destination.kind === "external";
  const objectStore =
    req.destination.kind === "external" && !req.destination.uriPrefix.startsWith("file:");
  const tmp = join(t.stateDir, "tmp", `snapshot-${randomBytes(6).toString("hex")}`);
  const step = timed(t.log, { worker: req.worker, actor: record.actor.actorId });
  // The driver empties the worker once this snapshot is made (or uploading), not while it
  // is hashed and packed: its processes would compete with that for the event loop and CPU.
  let done = () => {};
  const busyUntil = new Promise<void>((resolve) => {
    done = resolve;
  });
  try {
    if (req.scope === "Full") {
      warmHashThread(); // it starts while the sandbox is checkpointed, when the agent waits
      await step("checkpoint.sandbox", () =>
        driver.checkpoint(worker, runtime, join(tmp, "checkpoint"), {
          // Compressed only when uploaded to an object store (bench/transfer.bench.ts, counter
          // actor, s3rver, medians of 4): flate 2.2 MB vs 9.6 MB; checkpoint 550 vs 415 ms,
          // upload 194 vs 483, download 73 vs 305, restore 1246 vs 1222: end to end 2272 vs
          // 2432 ms. A local snapshot is moved, not copied, and a file:// location is a disk
          // too: compressing for either only costs CPU (30 actors swapping on 2 workers,
          // file:// location: 1.02 → 0.85 CPU-s per swap, 1.72 → 1.93 swaps/s uncompressed).
          compress: objectStore,
          drainTimeoutMs: t.drainTimeoutMs,
          busyUntil,
          ...(signal ? { signal } : {}),
        }),
      );
    } else {
      await driver.stop(worker, runtime);
    }
    await privateDir(tmp);
    const volumes = Object.entries(t.layout.volumeDirs(req.worker, record.workload));
    if (volumes.length) await privateDir(join(tmp, "data"));
    // The sandbox is gone: the durableDir contents are final. The memory image is hashed on
    // the hashing thread while they are packed here; the modes are set meanwhile too (memory
    // and files of the actor: root only, wherever kept), each part once it is written.
    const [memory, data] = await together([
      step("checkpoint.hash", async () => {
        const [files] = await together([
          describeFiles(join(tmp, "checkpoint"), tmp, true),
          privateTree(join(tmp, "checkpoint")).catch(ignoreMissing),
        ] as const);
        return files;
      }),
      step("checkpoint.data", async () => {
        await Promise.all(
          volumes.map(([name, dir]) => packDir(dir, join(tmp, "data", `${name}.tar.gz`))),
        );
        if (volumes.length) await privateTree(join(tmp, "data"));
        return describeFiles(join(tmp, "data"), tmp);
      }),
    ] as const);
    if (external) done(); // an upload mostly waits on the network: the worker may be emptied
    const files = [...memory, ...data].sort((a, b) => (a.name < b.name ? -1 : 1));
    const manifest: SnapshotManifest = {
      formatVersion: manifestFormatVersion,
      scope: req.scope,
      actor: record.actor,
      createdAt: new Date().toISOString(),
      arch: record.arch,
      sandboxClass: record.sandboxClass,
      assets: record.assets,
      images: record.images,
      // References only, never a Secret's value (the record is stored so already; this holds
      // for a record an older agent wrote): the memory image holds what the process read.
      workload: redactSecrets(record.workload),
      snapshotFiles: files,
    };
    const localUri = pathToFileURL(
      join(t.layout.snapshotsDir, record.actor.atespace, record.actor.actorId, snapshotName()),
    ).href;
    const uri = req.destination.kind === "external" ? req.destination.uriPrefix : localUri;
    try {
      await step("checkpoint.upload", () => upload(t, tmp, uri, files, manifest, signal));
    } catch (err) {
      if (uri === localUri) throw err;
      // Never lose the actor's state: keep the snapshot on this node instead, and say so in
      // the result (the control plane records where it really is).
      await upload(t, tmp, localUri, files, manifest);
      await t.layout.wipe(req.worker);
      const uploadError = `uploading the snapshot to ${uri} failed (${(err as Error).message})`;
      t.log.warn("snapshot kept on the node", { worker: req.worker, uri: localUri, uploadError });
      return { uri: localUri, local: true, files, uploadError };
    }
    await step("checkpoint.wipe", () => t.layout.wipe(req.worker));
    return { uri, local: uri === localUri, files };
  } finally {
    done();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Writes a snapshot: on this node by moving its files, elsewhere by uploading them. */
async function upload(
  t: SnapshotTaker,
  dir: string,
  uri: string,
  files: SnapshotFile[],
  manifest: SnapshotManifest,
  signal?: AbortSignal,
): Promise<void> {
  const local = uri.startsWith(pathToFileURL(t.layout.snapshotsDir).href);
  await writeSnapshot(t.openStore(uri), dir, files, manifest, {
    ...(local ? { moveTo: fileURLToPath(uri) } : {}),
    concurrency: t.uploadConcurrency,
    ...(signal ? { signal } : {}),
  });
}

/** A Data-scope snapshot has no memory image: nothing there to make private. */
function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
}
