import { createHash } from "node:crypto";
import { lstat, readdir, rename, rm, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import { AteError, Code } from "../errors/index.ts";
import { privateDir } from "../private-files/index.ts";
import { downloadSnapshot, type SnapshotFile } from "../snapshots/index.ts";
import type { SnapshotFilesRequest } from "./snapshot-files.ts";

/** Golden memory images a node keeps (most recently used first). */
const keep = 4;
/** An entry used this recently is never removed (a restore may be about to read it). */
const inUseMs = 10 * 60_000;

/**
 * A golden snapshot's memory, kept on the node once downloaded and verified: every actor of a
 * template resumes from the same golden, so its checkpoint is fetched and sha256-checked once
 * per node, not at every resume. Entries are named by the sha256 of the snapshot's URI, owner
 * and the files its manifest lists (names, sizes, sha256s), so a new golden is a new entry and
 * an entry never changes. They live under the node's state dir (0700, files 0600), written by downloadSnapshot
 * and renamed into place whole: like the node's own snapshots (snapshot-files.ts), their
 * integrity then rests on where they are; each use still checks every file's size, and a
 * damaged entry is fetched and verified again.
 */
export async function goldenFiles(cacheDir: string, r: SnapshotFilesRequest): Promise<string> {
  const wanted = r.manifest.snapshotFiles.filter(
    (f) => r.scope === "Full" || f.name.startsWith("data/"),
  );
  // The URI and owner too, not the content alone: a manifest elsewhere that merely lists the
  // sha256s of a cached golden (another template's, whose memory may hold its secrets) must
  // download and verify them itself, as without a cache.
  const key = createHash("sha256")
    .update(
      JSON.stringify([r.uri, r.manifest.actor, wanted.map((f) => [f.name, f.size, f.sha256])]),
    )
    .digest("hex");
  const entry = join(cacheDir, key);
  // Marked most recently used first, so that no prune takes it while it is checked.
  const now = new Date();
  const kept = await utimes(entry, now, now).then(
    () => true,
    () => false, // not kept here (yet)
  );
  if (kept) {
    if (await intact(entry, wanted, r.uri)) return entry;
    // Damaged on the node (a file missing or of another size): fetched and verified again.
    await rm(entry, { recursive: true, force: true });
  }
  await downloadSnapshot(r.store, r.uri, r.manifest, r.tmp, r.scope, r.signal);
  await privateDir(cacheDir);
  try {
    await rename(r.tmp, entry);
  } catch (err) {
    // Another restore put the same golden in place meanwhile: use that one.
    if (!(await stat(entry).catch(() => undefined))) throw err;
    return entry;
  }
  await prune(cacheDir, key);
  return entry;
}

/** Every file the manifest lists is in the entry: a regular file of the recorded size. */
async function intact(entry: string, wanted: SnapshotFile[], uri: string): Promise<boolean> {
  for (const f of wanted) {
    if (f.name.split("/").some((s) => s === ".." || s === "." || s === ""))
      throw new AteError(Code.DataLoss, `snapshot ${uri}: bad file name ${f.name}`);
    const s = await lstat(join(entry, f.name)).catch(() => undefined);
    if (!s?.isFile() || s.size !== f.size) return false;
  }
  return true;
}

/** Keeps the most recently used entries; older ones go once nobody used them for a while. */
async function prune(cacheDir: string, fresh: string): Promise<void> {
  const names = await readdir(cacheDir).catch(() => [] as string[]);
  const entries = await Promise.all(
    names.map(async (name) => ({
      name,
      mtime: (await stat(join(cacheDir, name)).catch(() => undefined))?.mtimeMs ?? Date.now(),
    })),
  );
  entries.sort((a, b) => b.mtime - a.mtime);
  const cutoff = Date.now() - inUseMs;
  for (const e of entries.slice(keep))
    if (e.name !== fresh && e.mtime < cutoff)
      await rm(join(cacheDir, e.name), { recursive: true, force: true });
}
