import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { BlobStore } from "../blob/index.ts";
import type { Logger } from "../log/index.ts";
import type { SandboxDriver } from "../sandbox/index.ts";
import { readManifest } from "../snapshots/index.ts";
import type { RestoreRequest, WorkerInfo } from "./api.ts";
import type { AssetCache } from "./assets/index.ts";
import type { ImageStore } from "./images/index.ts";
import type { ActorRecord, NodeLayout } from "./layout.ts";
import type { NodeWorkers } from "./node-workers.ts";
import { checkRestorable } from "./restore-checks.ts";
import { restoreInputs } from "./restore-inputs.ts";
import { withSecretValues } from "./secret-values.ts";
import type { SandboxStart } from "./start-sandbox.ts";
import { timed } from "./steps.ts";

/** What restoring a snapshot needs of the node agent. */
export interface SnapshotRestorer {
  arch: string;
  layout: NodeLayout;
  workers: NodeWorkers;
  assets: AssetCache;
  images: ImageStore;
  log: Logger;
  openStore: (uri: string) => BlobStore;
  driver: (sandboxClass: string) => SandboxDriver;
  /** Starts the sandbox and waits until it is ready (see startSandbox). */
  start: (start: SandboxStart, signal?: AbortSignal) => Promise<void>;
}

/**
 * Restores one snapshot on its own: a Full one from its memory image, a Data one by booting
 * the image with the snapshot's data laid into the volumes (see restoreInputs).
 */
export async function restoreSnapshot(
  n: SnapshotRestorer,
  req: RestoreRequest,
  signal: AbortSignal | undefined,
): Promise<WorkerInfo> {
  n.workers.get(req.worker); // an unknown worker fails before any download
  const step = timed(n.log, { worker: req.worker, actor: req.actor.actorId });
  const store = n.openStore(req.source);
  const manifest = await step("restore.manifest", () => readManifest(store, req.source, signal));
  // Whose snapshot, scope, arch: refused here, before the worker is held or anything fetched.
  checkRestorable(manifest, req, n.arch);
  // A Data restore boots the image: its Secret references filled from the request (a
  // required one missing fails here, before the worker is held). A Full restore needs none.
  const workload =
    req.scope === "Full"
      ? manifest.workload
      : withSecretValues(manifest.workload, req.secretValues, req.actor);
  const worker = await n.workers.claim(req.worker);
  const tmp = join(n.layout.tmpDir, `restore-${randomBytes(6).toString("hex")}`);
  try {
    const driver = n.driver(manifest.sandboxClass);
    const { runtime, images, dir } = await restoreInputs(
      { arch: n.arch, assets: n.assets, images: n.images, layout: n.layout },
      driver,
      worker,
      store,
      manifest,
      req,
      tmp,
      step,
      signal,
    );
    const record: ActorRecord = {
      actor: req.actor,
      sandboxClass: manifest.sandboxClass,
      arch: manifest.arch,
      assets: manifest.assets,
      runtimePaths: runtime.assets,
      images: manifest.images,
      workload,
    };
    const checkpointDir = req.scope === "Full" ? join(dir, "checkpoint") : undefined;
    const { actorToken } = req;
    await n.start({ worker, driver, runtime, record, images, checkpointDir, actorToken }, signal);
    return { ...n.workers.info(worker), actor: req.actor };
  } finally {
    worker.busy = false;
    await rm(tmp, { recursive: true, force: true });
  }
}
