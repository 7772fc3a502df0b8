// A node's own snapshots: each Pause (and each Suspend whose upload failed) leaves one in the
// node's snapshots directory, `<atespace>/<actor>/<name>/`. Which of them a record still
// points at only the control plane knows: it asks the node to remove the ones it superseded
// (deleteSnapshot, after the record that no longer names them is committed) and its collector
// lists them (listSnapshots) to sweep what a crash left. What no one can restore from at all
// the node sweeps itself at start: a snapshot without its manifest (written last: a
// checkpoint cut short) and the scratch space of checkpoints and restores under way then.
import { lstat, readdir, rm, rmdir, stat } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { AteError, Code } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import { manifestName } from "../snapshots/index.ts";
import type { LocalSnapshot, LocalSnapshots } from "./api.ts";
import type { NodeLayout } from "./layout.ts";

/** The node's complete snapshots (those with a manifest). */
export async function listLocalSnapshots(layout: NodeLayout): Promise<LocalSnapshots> {
  const snapshots: LocalSnapshot[] = [];
  for (const dir of await snapshotDirs(layout.snapshotsDir)) {
    const manifest = await stat(join(dir, manifestName)).catch(() => undefined);
    if (!manifest?.isFile()) continue;
    snapshots.push({
      uri: pathToFileURL(dir).href,
      bytes: await treeBytes(dir),
      modifiedAt: manifest.mtimeMs,
    });
  }
  return { location: pathToFileURL(layout.snapshotsDir).href, snapshots };
}

/**
 * Removes the snapshot at `uri` (manifest first: a removal cut short leaves files no one can
 * restore from, which the next start sweeps). Returns the bytes removed; 0 when it is gone.
 */
export async function removeLocalSnapshot(layout: NodeLayout, uri: string): Promise<number> {
  const dir = snapshotDirOf(layout, uri);
  const s = await lstat(dir).catch(() => undefined);
  if (!s) return 0;
  if (!s.isDirectory())
    throw new AteError(Code.InvalidArgument, `${uri}: not a snapshot of this node`);
  const bytes = await treeBytes(dir);
  await rm(join(dir, manifestName), { force: true });
  await rm(dir, { recursive: true, force: true });
  // The actor's and the atespace's directories, once empty (another snapshot keeps them).
  for (const d of [resolve(dir, ".."), resolve(dir, "../..")]) await rmdir(d).catch(() => {});
  return bytes;
}

/**
 * At the agent's start, when no checkpoint or restore of this process runs: snapshots
 * without a manifest (cut short) and the scratch space go. Returns what was removed.
 */
export async function sweepLocalLeftovers(layout: NodeLayout, log: Logger): Promise<string[]> {
  const removed: string[] = [];
  for (const dir of await snapshotDirs(layout.snapshotsDir)) {
    if (await stat(join(dir, manifestName)).catch(() => undefined)) continue;
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  for (const name of await readdir(layout.tmpDir).catch(() => [] as string[])) {
    if (!/^(snapshot|restore)-/.test(name)) continue;
    await rm(join(layout.tmpDir, name), { recursive: true, force: true });
    removed.push(join(layout.tmpDir, name));
  }
  if (removed.length) log.info("removed leftovers of snapshots cut short", { paths: removed });
  return removed;
}

/** The directory `uri` names, refused unless it is exactly `<atespace>/<actor>/<name>` here. */
function snapshotDirOf(layout: NodeLayout, uri: string): string {
  let path: string;
  try {
    path = fileURLToPath(uri);
  } catch {
    throw new AteError(Code.InvalidArgument, `${uri}: not a file:// snapshot URI`);
  }
  const dir = resolve(path.replace(/\/+$/, ""));
  const parts = relative(layout.snapshotsDir, dir).split(sep);
  if (parts.length !== 3 || parts.some((p) => !p || p === ".." || p === "."))
    throw new AteError(
      Code.InvalidArgument,
      `${uri}: not a snapshot in this node's snapshots directory`,
    );
  return dir;
}

/** Every `<atespace>/<actor>/<name>` directory under `root`. */
async function snapshotDirs(root: string): Promise<string[]> {
  const out: string[] = [];
  const dirs = async (d: string) =>
    (await readdir(d, { withFileTypes: true }).catch(() => []))
      .filter((e) => e.isDirectory())
      .map((e) => join(d, e.name));
  for (const a of await dirs(root))
    for (const b of await dirs(a)) for (const c of await dirs(b)) out.push(c);
  return out;
}

async function treeBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (!e.isFile()) continue;
    n += await stat(join(e.parentPath, e.name)).then(
      (s) => s.size,
      () => 0,
    );
  }
  return n;
}
