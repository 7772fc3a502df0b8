import { join } from "node:path";
import type { BlobStore } from "../blob/index.ts";
import type { SandboxDriver, SandboxRuntime } from "../sandbox/index.ts";
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
 * snapshot's files (verified, see snapshotFiles) and the volumes with the snapshot's data laid
 * in. The four are independent and run at once; only the unpacking waits for the files and
 * the volumes. Nothing is started here, so a snapshot that fails its checks starts nothing.
 */
export async function restoreInputs(
  n: RestoreInputsNode,
  driver: SandboxDriver,
  store: BlobStore,
  manifest: SnapshotManifest,
  req: Pick<RestoreRequest, "worker" | "source" | "scope">,
  tmp: string,
  step: Step,
  signal: AbortSignal | undefined,
): Promise<RestoreInputs> {
  const [runtime, dir, images] = await together([
    step("restore.runtime", () =>
      fetchRuntime(n.assets, driver, manifest.assets, n.arch, signal).catch((err) => {
        throw runtimeUnavailable(manifest, req.source, err);
      }),
    ),
    step("restore.files", () =>
      snapshotFiles({
        snapshotsDir: n.layout.snapshotsDir,
        store,
        uri: req.source,
        manifest,
        tmp,
        scope: req.scope,
        ...(signal ? { signal } : {}),
      }),
    ),
    step("restore.images", () => pullImages(n.images, manifest.workload, signal)),
    step("restore.volumes", () => n.layout.prepareVolumes(req.worker, manifest.workload)),
  ] as const);
  await step("restore.unpack", () =>
    Promise.all(
      Object.entries(n.layout.volumeDirs(req.worker, manifest.workload)).map(([name, into]) => {
        const file = `data/${name}.tar.gz`;
        return manifest.snapshotFiles.some((f) => f.name === file)
          ? unpackDir(join(dir, file), into)
          : undefined;
      }),
    ),
  );
  return { runtime, images, dir };
}
