import { lstat, realpath } from "node:fs/promises";
import { isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { BlobStore } from "../blob/index.ts";
import { AteError, Code } from "../errors/index.ts";
import { downloadSnapshot, type SnapshotManifest } from "../snapshots/index.ts";

export interface SnapshotFilesRequest {
  /** This node's own snapshots directory (NodeLayout.snapshotsDir). */
  snapshotsDir: string;
  store: BlobStore;
  uri: string;
  manifest: SnapshotManifest;
  /** Where a snapshot from elsewhere is downloaded to (removed by the caller). */
  tmp: string;
  scope: "Full" | "Data";
  signal?: AbortSignal;
}

/**
 * The directory a restore reads a snapshot's files from (`checkpoint/…`, `data/…`).
 *
 * A snapshot this node wrote into its own snapshots directory is used where it lies: no copy
 * and no second sha256 of every file. Its integrity rests on where it is, not on re-hashing:
 * takeSnapshot hashed these very files when it wrote them, moved them into a directory only
 * root can enter (0700 up to the state dir, files 0600) and wrote the manifest last, so no
 * one but root on this node (who could change the agent itself) can have altered them since.
 * What is still checked here, cheaply: every file the manifest lists is a regular file (not
 * a symlink) of the recorded size, so a truncated or missing file is refused as before.
 *
 * Every other snapshot (S3, GCS, HTTP, a file:// outside this node's snapshots) is
 * downloaded into `tmp` and each file verified against the manifest's sha256 before
 * anything is started from it (downloadSnapshot).
 */
export async function snapshotFiles(r: SnapshotFilesRequest): Promise<string> {
  const own = await ownSnapshotDir(r.uri, r.snapshotsDir);
  if (!own) {
    await downloadSnapshot(r.store, r.uri, r.manifest, r.tmp, r.scope, r.signal);
    return r.tmp;
  }
  const wanted = r.manifest.snapshotFiles.filter(
    (f) => r.scope === "Full" || f.name.startsWith("data/"),
  );
  await Promise.all(
    wanted.map(async (f) => {
      if (f.name.split("/").some((s) => s === ".." || s === "." || s === ""))
        throw new AteError(Code.DataLoss, `snapshot ${r.uri}: bad file name ${f.name}`);
      const s = await lstat(join(own, f.name)).catch(() => undefined);
      if (!s?.isFile() || s.size !== f.size)
        throw new AteError(
          Code.DataLoss,
          `snapshot ${r.uri}: ${f.name} is ${s ? (s.isFile() ? `${s.size} bytes` : "not a regular file") : "missing"}, the manifest says ${f.size} bytes; refusing to restore it`,
        );
    }),
  );
  return own;
}

/** The snapshot's real directory when `uri` is a file:// url inside this node's snapshots. */
async function ownSnapshotDir(uri: string, snapshotsDir: string): Promise<string | undefined> {
  if (!uri.startsWith("file:")) return undefined;
  let path: string;
  try {
    path = fileURLToPath(uri);
  } catch {
    return undefined;
  }
  // Symlinks and `..` resolved: a url that only looks local is treated as foreign.
  const [real, root] = await Promise.all([realpath(path), realpath(snapshotsDir)]).catch(() => [
    undefined,
    undefined,
  ]);
  if (!real || !root) return undefined;
  const rel = relative(root, real);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? real : undefined;
}
