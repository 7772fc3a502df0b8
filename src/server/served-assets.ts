import { createHash } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { type FileHandle, open, realpath } from "node:fs/promises";
import { AteError, Code } from "../errors/index.ts";

/** Where the API server serves an asset: `<base>/assets/sha256/<hex>`. */
export const assetsPathPrefix = "/assets/sha256/";

/** The url a node fetches a served asset from, given the API's base url (`http://host:port`). */
export function servedAssetUrl(apiUrl: string, sha256: string): string {
  return `${apiUrl.replace(/\/+$/, "")}${assetsPathPrefix}${sha256}`;
}

/** A declared file as it was when hashed: serving checks it is still that file. */
export interface ServedAsset {
  sha256: string;
  /** Real path (symlinks resolved at declaration). */
  path: string;
  size: number;
  identity: string;
}

/** Device, inode, size and mtime: a file replaced or rewritten since has another. */
export function fileIdentity(s: Stats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
}

/**
 * The runtime assets this control plane declared itself (the default runsc), by sha256: the
 * only files the asset route ever reads. Nothing reaches it from a request but a digest
 * looked up here, so no url can name a path.
 */
export class ServedAssets {
  private readonly byDigest = new Map<string, ServedAsset>();

  /**
   * Hashes the file and serves it under its sha256 from now on; returns the digest. The file
   * must be a regular file that does not change while it is hashed.
   */
  async declare(file: string): Promise<ServedAsset> {
    const path = await realpath(file);
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const before = await fh.stat();
      if (!before.isFile())
        throw new AteError(
          Code.InvalidArgument,
          `${path} is not a regular file: only files can be served as runtime assets`,
        );
      const hash = createHash("sha256");
      for await (const chunk of fh.createReadStream({ start: 0, autoClose: false }))
        hash.update(chunk as Buffer);
      const after = await fh.stat();
      if (fileIdentity(before) !== fileIdentity(after))
        throw new AteError(
          Code.Aborted,
          `${path} changed while it was being hashed: retry once it is no longer being written`,
        );
      const asset = {
        sha256: hash.digest("hex"),
        path,
        size: after.size,
        identity: fileIdentity(after),
      };
      this.byDigest.set(asset.sha256, asset);
      return asset;
    } finally {
      await fh.close();
    }
  }

  get(sha256: string): ServedAsset | undefined {
    return this.byDigest.get(sha256);
  }

  /**
   * Opens a declared asset for reading, refused when it is not declared (NOT_FOUND) or the file
   * is no longer the one hashed (UNAVAILABLE: its bytes would not match the digest). The
   * caller reads the returned handle and closes it.
   */
  async open(sha256: string): Promise<{ handle: FileHandle; size: number }> {
    const asset = this.byDigest.get(sha256);
    if (!asset) throw notServed(sha256);
    const handle = await open(asset.path, constants.O_RDONLY | constants.O_NOFOLLOW).catch(
      (err: NodeJS.ErrnoException) => {
        throw changed(sha256, err.code ?? String(err));
      },
    );
    try {
      const now = await handle.stat();
      if (fileIdentity(now) !== asset.identity)
        throw changed(sha256, "it was replaced or rewritten");
      return { handle, size: now.size };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }
}

function notServed(sha256: string): AteError {
  return new AteError(
    Code.NotFound,
    `asset sha256 ${sha256} is not served here: this control plane serves only the runtime assets it declared itself (see its default SandboxConfig)`,
  );
}

function changed(sha256: string, why: string): AteError {
  return new AteError(
    Code.Unavailable,
    `asset sha256 ${sha256}: the file it was declared from changed since (${why}): restart the control plane so it declares the file as it is now`,
  );
}
