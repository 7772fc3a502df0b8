import { createReadStream, lstatSync, readdirSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { create as tarCreate, extract as tarExtract } from "tar";
import { hashFile } from "../snapshots/index.ts";
import type { SnapshotFile } from "./api.ts";
import { hashFileOffThread } from "./hash-thread.ts";

/**
 * Every regular file under dir, as snapshot files named relative to base. `offThread`: hashed
 * on the hashing thread (hash-thread.ts), for a checkpoint's image.
 */
export async function describeFiles(
  dir: string,
  base: string,
  offThread = false,
): Promise<SnapshotFile[]> {
  const hash = offThread ? hashFileOffThread : hashFile;
  const out: SnapshotFile[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const path = join(d, e.name);
      if (e.isDirectory()) await walk(path);
      else if (e.isFile())
        out.push({ name: relative(base, path).split(sep).join("/"), ...(await hash(path)) });
    }
  };
  await walk(dir);
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** A durableDir's contents as a gzipped tar (owners and modes kept). */
export async function packDir(dir: string, file: string): Promise<void> {
  // A small dir is packed in one go (≈4 ms, where the stream's dozens of turns wait behind
  // everything else a checkpoint does); a large one never blocks the event loop.
  const sync = isSmall(dir);
  await tarCreate({ gzip: true, cwd: dir, file, portable: false, ...(sync ? { sync } : {}) }, [
    ".",
  ]);
}

/** Whether dir holds at most 64 entries and 1 MiB of files (looked at no further than that). */
function isSmall(dir: string): boolean {
  let entries = 0;
  let bytes = 0;
  const walk = (d: string): boolean => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, e.name);
      if (++entries > 64) return false;
      if (e.isDirectory() && !walk(path)) return false;
      if (e.isFile()) bytes += lstatSync(path).size;
      if (bytes > 1024 * 1024) return false;
    }
    return true;
  };
  try {
    return walk(dir);
  } catch {
    return false; // the stream reports what is wrong
  }
}

/**
 * Unpacks a .tar.gz into dir. An archive of `size` bytes at most smallArchiveBytes is unpacked
 * in one go, without yielding: each of its few files would otherwise cost a few turns of the
 * event loop, which a restore waits for (tens of ms on a busy machine, for a tiny volume).
 */
export async function unpackDir(file: string, dir: string, size = Infinity): Promise<void> {
  if (size <= smallArchiveBytes)
    return tarExtract({ file, cwd: dir, preserveOwner: true, sync: true });
  await pipeline(createReadStream(file), tarExtract({ cwd: dir, preserveOwner: true }));
}

/**
 * Archives unpacked synchronously: ≈1–2 ms of the event loop for a few small files, and even
 * the most compressible 8 KiB (gzip's ≈1000:1: zeros) unpack to at most ≈8 MB.
 */
const smallArchiveBytes = 8 * 1024;
