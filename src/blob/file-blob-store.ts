import { createReadStream, createWriteStream } from "node:fs";
import { chmod, link, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { AteError, Code } from "../errors/index.ts";
import { privateDirMode, privateFileMode } from "../private-files/index.ts";
import type { BlobInfo, BlobOptions, BlobStore } from "./blob-store.ts";
import { checkKey } from "./keys.ts";

/**
 * Blobs as files under a directory; each put lands via a temp file and rename. Blobs are
 * snapshots (memory, files): created for root only (0600 files, new directories 0700).
 */
export class FileBlobStore implements BlobStore {
  readonly uri: string;

  constructor(private readonly root: string) {
    this.uri = pathToFileURL(root).href;
  }

  async put(key: string, body: Readable | Buffer, options: BlobOptions = {}): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true, mode: privateDirMode });
    const tmp = tmpName(path);
    try {
      const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
      await pipeline(source, createWriteStream(tmp, { flags: "wx", mode: privateFileMode }), {
        signal: options.signal,
      });
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /**
   * A hard link to the finished file under a temp name, made private and renamed into place:
   * atomic like put (the name appears only for a complete file) but no byte is read or
   * written, where copying a memory image cost the node's event loop most of a swap's CPU.
   * Where a link cannot be made (another filesystem, one without hard links) it is copied.
   */
  async putFile(key: string, localPath: string, options: BlobOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true, mode: privateDirMode });
    const tmp = tmpName(path);
    try {
      await link(localPath, tmp);
    } catch (err) {
      if (!linkUnsupported.has((err as NodeJS.ErrnoException).code ?? "")) throw err;
      return this.put(key, createReadStream(localPath, { highWaterMark: 1 << 20 }), options);
    }
    try {
      await chmod(tmp, privateFileMode); // as put makes them, whatever mode the file had
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(key: string): Promise<Readable> {
    const path = this.path(key);
    if (!(await this.stat(key)))
      throw new AteError(Code.NotFound, `blob ${this.uri}/${key} not found`);
    // 1 MiB reads (not 64 KiB): a snapshot's files are read, hashed and copied on a restore's
    // path, and every chunk is a few turns of the event loop.
    return createReadStream(path, { highWaterMark: 1 << 20 });
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    try {
      const s = await stat(this.path(key));
      return s.isFile() ? { key, size: s.size } : undefined;
    } catch {
      return undefined;
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: import("node:fs").Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (e.isFile() && !e.name.includes(".tmp-")) {
          const key = relative(this.root, full).split(sep).join("/");
          if (key.startsWith(prefix)) {
            const s = await stat(full);
            out.push({ key, size: s.size, modifiedAt: s.mtimeMs });
          }
        }
      }
    };
    await walk(this.root);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  private path(key: string): string {
    return join(this.root, ...checkKey(key).split("/"));
  }
}

/** Beside the blob (same directory, so the rename stays on one filesystem); list skips it. */
function tmpName(path: string): string {
  return `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
}

/** link(2) errors that mean "no hard link here", not "no access": then the file is copied. */
const linkUnsupported = new Set(["EXDEV", "EPERM", "EMLINK", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]);
