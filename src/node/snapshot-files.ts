import type { Stats } from "node:fs";
import { lstat, realpath } from "node:fs/promises";
import { dirname, isAbsolute, join, relative } from "node:path";
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
 * A snapshot in a file:// location elsewhere on this node (a template's snapshot location,
 * as `ate up` sets one) is used in place on the same grounds when only the agent's user (root)
 * can have written it: every directory from / down to each file is owned by root (or the
 * agent's user) and writable by no one else (a sticky directory, like /tmp, may be: no one
 * else can rename or remove a root-owned entry in it), and every file is too. A snapshot
 * written there by ate (0700 directories, 0600 files, manifest last) passes; then a check of
 * its sha256 would only catch what root did, like one in the node's own directory. Owner and
 * mode bits bound POSIX ACLs too (the group bits are the ACL mask). A location another user or
 * tenant can write to anywhere along the path fails and is verified as below. (An NFS export
 * shared by nodes counts as written by root: ate nodes of one cluster trust each other.)
 *
 * Every other snapshot (S3, GCS, HTTP, a file:// another user could write) is downloaded
 * into `tmp` and each file verified against the manifest's sha256 before anything is started
 * from it (downloadSnapshot).
 */
export async function snapshotFiles(r: SnapshotFilesRequest): Promise<string> {
  const wanted = r.manifest.snapshotFiles.filter(
    (f) => r.scope === "Full" || f.name.startsWith("data/"),
  );
  for (const f of wanted)
    if (f.name.split("/").some((s) => s === ".." || s === "." || s === ""))
      throw new AteError(Code.DataLoss, `snapshot ${r.uri}: bad file name ${f.name}`);
  const dir =
    (await ownSnapshotDir(r.uri, r.snapshotsDir)) ??
    (await agentOnlySnapshotDir(
      r.uri,
      wanted.map((f) => f.name),
    ));
  if (!dir) {
    await downloadSnapshot(r.store, r.uri, r.manifest, r.tmp, r.scope, r.signal);
    return r.tmp;
  }
  await Promise.all(
    wanted.map(async (f) => {
      const s = await lstat(join(dir, f.name)).catch(() => undefined);
      if (!s?.isFile() || s.size !== f.size)
        throw new AteError(
          Code.DataLoss,
          `snapshot ${r.uri}: ${f.name} is ${s ? (s.isFile() ? `${s.size} bytes` : "not a regular file") : "missing"}, the manifest says ${f.size} bytes; refusing to restore it`,
        );
    }),
  );
  return dir;
}

/**
 * The snapshot's real directory when `uri` is a file:// url that only the agent's user can
 * have written: every directory from / down to each of `names` and each file itself pass
 * agentOnlyEntry. Anything else (a file missing, not regular, another's) is left to the
 * download, which verifies it.
 */
async function agentOnlySnapshotDir(uri: string, names: string[]): Promise<string | undefined> {
  if (!uri.startsWith("file:")) return undefined;
  let real: string;
  try {
    real = await realpath(fileURLToPath(uri)); // no symlink left on the path to check
  } catch {
    return undefined;
  }
  const ok = async (path: string, dir: boolean) => {
    const s = await lstat(path).catch(() => undefined);
    return !!s && (dir ? s.isDirectory() : s.isFile()) && agentOnlyEntry(s);
  };
  for (let d = real; ; d = dirname(d)) {
    if (!(await ok(d, true))) return undefined;
    if (d === dirname(d)) break;
  }
  const inner = new Set(names.map((n) => dirname(n)).filter((d) => d !== "."));
  for (const d of [...inner]) for (let p = dirname(d); p !== "."; p = dirname(p)) inner.add(p);
  const checks = [
    ...[...inner].map((d) => ok(join(real, d), true)),
    ...names.map((n) => ok(join(real, n), false)),
  ];
  return (await Promise.all(checks)).every(Boolean) ? real : undefined;
}

/**
 * Owned by root or the agent's user, and writable by no one else: a directory may be if it is
 * sticky (others cannot rename or remove what they do not own in it).
 */
function agentOnlyEntry(s: Stats): boolean {
  if (s.uid !== 0 && s.uid !== process.geteuid?.()) return false;
  return (s.mode & 0o022) === 0 || (s.isDirectory() && (s.mode & 0o1000) !== 0);
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
