import { constants } from "node:fs";
import { open, readlink, realpath } from "node:fs/promises";
import { resolve, sep } from "node:path";
import { AteError, Code } from "../errors/index.ts";

/** Where file:// urls may be read from. */
export interface FileAccess {
  /** Directories files may be read from; a file's real path (symlinks, `..` resolved) must be under one. */
  allowedDirs: readonly string[];
  /** How a node admin allows another directory, for messages (e.g. `ate up --asset-dir DIR`). */
  hint: string;
}

export interface ConfinedFile {
  body: NodeJS.ReadableStream & import("node:stream").Readable;
  size: number;
}

/**
 * Opens a local file only when its real path lies under an allowed directory. A path outside
 * them is refused without touching it (not even a stat: its existence is not told either);
 * one inside is resolved (symlinks, `..`) and checked again, then opened without following a
 * last symlink and checked once more through /proc, so a swap between check and open is
 * caught. Only regular files are read (a FIFO or device could block or have side effects).
 */
export async function openConfinedFile(
  url: string,
  path: string,
  what: string,
  access: FileAccess,
): Promise<ConfinedFile> {
  const dirs = await realDirs(access.allowedDirs);
  const refuse = (real?: string) =>
    new AteError(
      Code.PermissionDenied,
      `${what}: ${url}${real && !url.endsWith(real) ? ` (which resolves to ${real})` : ""} is outside the directories this node reads file:// urls from (${
        dirs.join(", ") || "none"
      }); nothing was read: use a file under one of them, or allow its directory with ${access.hint}`,
    );
  if (path.includes("\0"))
    throw new AteError(Code.InvalidArgument, `${what}: ${url}: a file path cannot hold a NUL byte`);
  const lexical = resolve(path);
  if (!dirs.some((d) => within(lexical, d))) throw refuse(lexical);
  let real: string;
  try {
    real = await realpath(lexical);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new AteError(Code.NotFound, `${what}: ${url}: no such file`);
    throw err;
  }
  if (!dirs.some((d) => within(real, d))) throw refuse(real);
  const file = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const s = await file.stat();
    if (!s.isFile())
      throw new AteError(Code.InvalidArgument, `${what}: ${url} is not a regular file`);
    const opened = await readlink(`/proc/self/fd/${file.fd}`).catch(() => real);
    if (!dirs.some((d) => within(opened, d))) throw refuse(opened);
    return { body: file.createReadStream(), size: s.size };
  } catch (err) {
    await file.close();
    throw err;
  }
}

/** The allowed directories as real paths (those that do not exist are left out). */
async function realDirs(dirs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const d of dirs) {
    const real = await realpath(resolve(d)).catch(() => undefined);
    if (real && !out.includes(real)) out.push(real);
  }
  return out;
}

function within(path: string, dir: string): boolean {
  return dir === sep || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);
}
