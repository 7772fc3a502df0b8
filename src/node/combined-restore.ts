import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { list as tarList } from "tar";
import type { BlobStore } from "../blob/index.ts";
import { readManifest, type SnapshotManifest } from "../snapshots/index.ts";
import type { RestoreRequest, WorkerInfo } from "./api.ts";
import { unpackDir } from "./files.ts";
import { goldenFiles } from "./golden-cache.ts";
import type { ActorRecord } from "./layout.ts";
import { checkCombined, runtimeUnavailable } from "./restore-checks.ts";
import type { SnapshotRestorer } from "./restore-snapshot.ts";
import { fetchRuntime, pullImages } from "./runtime-inputs.ts";
import { snapshotFiles } from "./snapshot-files.ts";
import { timed, together } from "./steps.ts";

/** What a combined restore needs of the node agent. */
export interface CombinedRestorer extends SnapshotRestorer {
  /** The restore without a base: the cold boot with the data laid in. */
  restoreData: (req: RestoreRequest, signal?: AbortSignal) => Promise<WorkerInfo>;
}

/**
 * Combined restore (what Agent Substrate does for gVisor): an actor whose snapshots keep only
 * its durable data resumes from its template's golden snapshot (memory) with its own latest
 * data laid into the volumes, instead of booting its image again. The volumes are bind mounts
 * that gVisor revalidates (--file-access-mounts=shared, runsc's default), so after the restore
 * the actor reads its own files, not the golden's. The golden's manifest pins the runtime,
 * images and workload (they belong to the memory image). The actor boots with its data as
 * before (a Data restore without a base) when the golden holds no memory (taken before goldens
 * were always Full), runs another workload than the actor's data was made with, had files in
 * its volumes (its memory may hold them open or cached), or its restore fails.
 */
export async function restoreCombined(
  n: CombinedRestorer,
  req: RestoreRequest & { base: string },
  signal: AbortSignal | undefined,
): Promise<WorkerInfo> {
  const step = timed(n.log, { worker: req.worker, actor: req.actor.actorId });
  n.workers.get(req.worker); // an unknown worker fails before any download
  const baseStore = n.openStore(req.base);
  const sameSnapshot = req.source === req.base;
  const dataStore = sameSnapshot ? baseStore : n.openStore(req.source);
  const [base, data] = await step("restore.manifests", () =>
    Promise.all([
      readManifest(baseStore, req.base, signal),
      sameSnapshot ? undefined : readManifest(dataStore, req.source, signal),
    ]),
  );
  const dataManifest = data ?? base;
  // Whose snapshots, scopes, arch: refused here, before the worker is held or anything fetched.
  checkCombined(base, dataManifest, req, n.arch);
  const { base: _base, ...plain } = req;
  if (base.scope !== "Full") return n.restoreData(plain, signal);
  if (!sameWorkload(base, dataManifest)) {
    n.log.info("combined restore: the golden snapshot runs another workload; booting instead", {
      actor: req.actor.actorId,
      base: req.base,
      source: req.source,
    });
    return n.restoreData(plain, signal);
  }
  const worker = await n.workers.claim(req.worker);
  const tmp = join(n.layout.tmpDir, `restore-${randomBytes(6).toString("hex")}`);
  let fallback: string;
  try {
    const driver = n.driver(base.sandboxClass);
    const files = (store: BlobStore, uri: string, manifest: SnapshotManifest, into: string) => ({
      snapshotsDir: n.layout.snapshotsDir,
      store,
      uri,
      manifest,
      tmp: join(tmp, into),
      ...(signal ? { signal } : {}),
    });
    // Independent, so at once; each snapshot's files checked against its own manifest before
    // anything starts: the golden downloaded and verified once per node (then kept, see
    // golden-cache.ts), the actor's data in place when this node wrote it, else downloaded.
    const [runtime, images, baseDir, dataDir] = await together([
      step("restore.runtime", () =>
        fetchRuntime(n.assets, driver, base.assets, n.arch, signal).catch((err) => {
          throw runtimeUnavailable(base, req.base, err);
        }),
      ),
      step("restore.images", () => pullImages(n.images, base.workload, signal)),
      step("restore.base", () =>
        goldenFiles(join(n.layout.stateDir, "goldens"), {
          ...files(baseStore, req.base, base, "base"),
          scope: "Full",
        }),
      ),
      step("restore.data", () =>
        snapshotFiles({ ...files(dataStore, req.source, dataManifest, "data"), scope: "Data" }),
      ),
      step("restore.volumes", () => n.layout.prepareVolumes(req.worker, base.workload)),
    ] as const);
    const held = await filesInVolumes(baseDir, base);
    if (held.length) {
      // Its memory may hold them open or cached: under the actor's files that would write
      // the golden's idea of them into the actor's data.
      fallback = `the golden's volumes held files when it was taken (${held.slice(0, 3).join(", ")})`;
    } else {
      await step("restore.unpack", () =>
        Promise.all(
          Object.entries(n.layout.volumeDirs(req.worker, base.workload)).map(([name, into]) => {
            const file = `data/${name}.tar.gz`;
            return dataManifest.snapshotFiles.some((f) => f.name === file)
              ? unpackDir(join(dataDir, file), into)
              : undefined;
          }),
        ),
      );
      const record: ActorRecord = {
        actor: req.actor,
        sandboxClass: base.sandboxClass,
        arch: base.arch,
        assets: base.assets,
        runtimePaths: runtime.assets,
        images: base.images,
        workload: base.workload,
      };
      try {
        const checkpointDir = join(baseDir, "checkpoint");
        const { actorToken } = req;
        await n.start(
          { worker, driver, runtime, record, images, checkpointDir, actorToken },
          signal,
        );
        return { ...n.workers.info(worker), actor: req.actor };
      } catch (err) {
        if (signal?.aborted) throw err;
        // start() emptied the worker; the actor's snapshot is untouched.
        fallback = `restoring the golden's memory failed: ${(err as Error).message}`;
      }
    }
  } finally {
    worker.busy = false;
    await rm(tmp, { recursive: true, force: true });
  }
  n.log.warn("combined restore: booting the actor with its data instead", {
    actor: `${req.actor.atespace}/${req.actor.actorId}`,
    base: req.base,
    why: fallback,
  });
  return n.restoreData(plain, signal);
}

/** Regular files in the golden's volume archives (directories alone are harmless). */
async function filesInVolumes(dir: string, manifest: SnapshotManifest): Promise<string[]> {
  const found: string[] = [];
  for (const f of manifest.snapshotFiles.filter((f) => f.name.startsWith("data/")))
    await tarList({
      file: join(dir, f.name),
      onReadEntry: (e) => {
        if (e.type !== "Directory")
          found.push(`${f.name.slice(5, -7)}:${e.path.replace(/^\.\//, "")}`);
      },
    });
  return found;
}

/** The golden's memory runs the same code on the same volumes as the actor's data expects. */
function sameWorkload(base: SnapshotManifest, data: SnapshotManifest): boolean {
  return (
    base.sandboxClass === data.sandboxClass &&
    isDeepStrictEqual(base.images, data.images) &&
    isDeepStrictEqual(base.workload, data.workload)
  );
}
