import { join } from "node:path";
import type { BlobStore } from "../blob/index.ts";
import type { SandboxDriver, SandboxRuntime, WorkerRef } from "../sandbox/index.ts";
import type { SnapshotManifest } from "../snapshots/index.ts";
import type { RestoreRequest } from "./api.ts";
import type { AssetCache } from "./assets/index.ts";
import { unpackDir } from "./files.ts";
import type { ImageStore, PulledImage } from "./images/index.ts";
import type { NodeLayout } from "./layout.ts";
import { runtimeUnavailable } from "./restore-checks.ts";
import { fetchRuntime, pullImages } from "./runtime-inputs.ts";
import { snapshotFiles } from "./snapshot-files.ts";
import { type Step, together } from "./steps.ts";

/** What gathering a restore's inputs needs of the node agent. */
export interface RestoreInputsNode {
  arch: string;
  assets: AssetCache;
  images: ImageStore;
  layout: NodeLayout;
}

export interface RestoreInputs {
  runtime: SandboxRuntime;
  images: Record<string, PulledImage>;
  /** The snapshot's files (`checkpoint/…`): in place for this node's own, else downloaded. */
  dir: string;
}

/**
 * Everything a restore starts from, made ready on a held worker: the runtime, the images, the
 * snapshot's memory image and the volumes with the snapshot's data laid in, each of its files
 * verified first (see snapshotFiles). They are independent and run at once: the data is
 * unpacked as soon as its own files are verified and the volumes prepared, while the memory
 * image is still being fetched. Nothing is started here, so a snapshot that fails its checks
 * starts nothing (verified data may have been laid into the held worker's volumes, which the
 * next start on it prepares afresh). Meanwhile the worker's former sandbox finishes its
 * tear-down (right after a checkpoint it may still get its fresh network): the start would
 * wait for that after these steps.
 */
export async function restoreInputs(
  n: RestoreInputsNode,
  driver: SandboxDriver,
  worker: WorkerRef,
  store: BlobStore,
  manifest: SnapshotManifest,
  req: Pick<RestoreRequest, "worker" | "source" | "scope">,
  tmp: string,
  step: Step,
  signal: AbortSignal | undefined,
): Promise<RestoreInputs> {
  // The snapshot's files in two parts (memory, data): both land in the same place.
  const files = (data: boolean) =>
    snapshotFiles({
      snapshotsDir: n.layout.snapshotsDir,
      store,
      uri: req.source,
      manifest: {
        ...manifest,
        snapshotFiles: manifest.snapshotFiles.filter((f) => f.name.startsWith("data/") === data),
      },
      tmp,
      scope: req.scope,
      ...(signal ? { signal } : {}),
    });
  const [runtime, dir, images] = await together([
    step("restore.runtime", () =>
      fetchRuntime(n.assets, driver, manifest.assets, n.arch, signal).catch((err) => {
        throw runtimeUnavailable(manifest, req.source, err);
      }),
    ),
    step("restore.files", () => files(false)),
    step("restore.images", () => pullImages(n.images, manifest.workload, signal)),
    layInData(n, manifest, req.worker, step, () => files(true)),
    step("restore.settle", async () => driver.settled?.(worker)),
  ] as const);
  return { runtime, images, dir };
}

/** The worker's volumes, prepared, with the snapshot's data (once verified) unpacked into them. */
async function layInData(
  n: RestoreInputsNode,
  manifest: SnapshotManifest,
  worker: string,
  step: Step,
  dataFiles: () => Promise<string>,
): Promise<void> {
  const [dir] = await together([
    step("restore.data", dataFiles),
    step("restore.volumes", () => n.layout.prepareVolumes(worker, manifest.workload)),
  ] as const);
  await step("restore.unpack", () =>
    Promise.all(
      Object.entries(n.layout.volumeDirs(worker, manifest.workload)).map(([name, into]) => {
        const file = manifest.snapshotFiles.find((f) => f.name === `data/${name}.tar.gz`);
        return file ? unpackDir(join(dir, file.name), into, file.size) : undefined;
      }),
    ),
  );
}
