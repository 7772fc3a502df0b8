import { createReadStream } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { create as tarCreate, extract as tarExtract } from "tar";
import { hashFile } from "../snapshots/index.ts";
import type { SnapshotFile } from "./api.ts";

/** Every regular file under dir, as snapshot files named relative to base. */
export async function describeFiles(dir: string, base: string): Promise<SnapshotFile[]> {
  const out: SnapshotFile[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const path = join(d, e.name);
      if (e.isDirectory()) await walk(path);
      else if (e.isFile())
        out.push({ name: relative(base, path).split(sep).join("/"), ...(await hashFile(path)) });
    }
  };
  await walk(dir);
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** A durableDir's contents as a gzipped tar (owners and modes kept). */
export async function packDir(dir: string, file: string): Promise<void> {
  await tarCreate({ gzip: true, cwd: dir, file, portable: false }, ["."]);
}

export async function unpackDir(file: string, dir: string): Promise<void> {
  await pipeline(createReadStream(file), tarExtract({ cwd: dir, preserveOwner: true }));
}
