import { constants, type Stats } from "node:fs";
import { type FileHandle, lstat, open, readlink, realpath } from "node:fs/promises";
import { join } from "node:path";
import { AteError, Code } from "../errors/index.ts";

/** A file found under a root with no symlink on the way: its path and what lstat said. */
export interface FoundFile {
  path: string;
  stats: Stats;
}

/**
 * `rel` (slash-separated, clean) under `root`, each step checked with lstat: every directory
 * a real directory, the file a regular file, no symlink anywhere below the root (the root
 * itself is resolved once: it is the admin's). A symlink planted in a snapshot directory
 * would otherwise have the migration upload whatever it points at. NOT_FOUND when missing.
 */
export async function findUnder(root: string, rel: string, what: string): Promise<FoundFile> {
  const segments = rel.split("/");
  if (segments.some((s) => s === "" || s === "." || s === ".." || s.includes("\0")))
    throw new AteError(
      Code.PermissionDenied,
      `${what}: ${JSON.stringify(rel.slice(0, 300))} is not a clean relative path; nothing was read`,
    );
  let path = await realpath(root).catch((err: NodeJS.ErrnoException) => {
    throw notFound(what, root, err);
  });
  for (const [i, s] of segments.entries()) {
    path = join(path, s);
    const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
      throw notFound(what, path, err);
    });
    const last = i === segments.length - 1;
    if (st.isSymbolicLink() || (last ? !st.isFile() : !st.isDirectory()))
      throw new AteError(
        Code.PermissionDenied,
        `${what}: ${path} is ${st.isSymbolicLink() ? "a symbolic link" : last ? "not a regular file" : "not a directory"}; ate never writes one there, so nothing was read: remove it, or the record naming it, then migrate again`,
      );
    if (last) return { path, stats: st };
  }
  throw new AteError(Code.Internal, `${what}: empty path`);
}

/**
 * Opens a file found with findUnder, without following a last symlink, and checks it is
 * still the file that was checked (same device and inode, and /proc says where it is): a
 * swap between the check and the open is refused.
 */
export async function openUnder(
  root: string,
  rel: string,
  what: string,
): Promise<{ handle: FileHandle; size: number; path: string }> {
  const found = await findUnder(root, rel, what);
  const handle = await open(found.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const st = await handle.stat();
    const at = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => found.path);
    if (
      !st.isFile() ||
      st.dev !== found.stats.dev ||
      st.ino !== found.stats.ino ||
      at !== found.path
    )
      throw new AteError(
        Code.Aborted,
        `${what}: ${found.path} changed while it was being opened; nothing was read: migrate again once nothing writes there`,
      );
    return { handle, size: st.size, path: found.path };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** A whole small file under root (a manifest), refused past `maxBytes`. */
export async function readUnder(
  root: string,
  rel: string,
  what: string,
  maxBytes: number,
): Promise<string> {
  const { handle, size, path } = await openUnder(root, rel, what);
  try {
    if (size > maxBytes)
      throw new AteError(
        Code.DataLoss,
        `${what}: ${path} is ${size} bytes, over the ${maxBytes}-byte limit: it is not one ate wrote`,
      );
    return (await handle.readFile()).toString("utf8");
  } finally {
    await handle.close();
  }
}

function notFound(what: string, path: string, err: NodeJS.ErrnoException): AteError {
  if (err.code === "ENOENT" || err.code === "ENOTDIR")
    return new AteError(Code.NotFound, `${what}: ${path} does not exist`);
  return new AteError(Code.Unavailable, `${what}: ${path}: ${err.code ?? err.message}`, [], {
    cause: err,
  });
}
