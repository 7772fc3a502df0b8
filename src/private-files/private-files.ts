import { chmodSync, closeSync, mkdirSync, openSync } from "node:fs";
import { chmod, mkdir, readdir } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * ate's state (snapshots, logs, records, tokens, the asset cache) is for root only: files
 * 0600, directories 0700. Modes are given at creation, so nothing is ever briefly readable,
 * and fixed on start for state written by older versions.
 */
export const privateFileMode = 0o600;
export const privateDirMode = 0o700;

/** Creates dir (and missing parents) 0700; an existing dir is made 0700 too. */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: privateDirMode });
  await chmod(dir, privateDirMode);
}

export function privateDirSync(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: privateDirMode });
  chmodSync(dir, privateDirMode);
}

/** Makes existing directories 0700 and files 0600; absent ones and other users' are skipped. */
export function fixModesSync(paths: { dirs?: readonly string[]; files?: readonly string[] }): void {
  const fix = (p: string, mode: number) => {
    try {
      chmodSync(p, mode);
    } catch (err) {
      // Absent, or another user's file (theirs to fix; opening it decides whether we may).
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "EPERM") throw err;
    }
  };
  for (const d of paths.dirs ?? []) fix(d, privateDirMode);
  for (const f of paths.files ?? []) fix(f, privateFileMode);
}

/**
 * Every directory under dir 0700 and every regular file 0600 (symlinks are left alone:
 * chmod would follow them). For trees ate writes itself, e.g. a snapshot before it is kept.
 */
export async function privateTree(dir: string): Promise<void> {
  await chmod(dir, privateDirMode);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) await privateTree(path);
    else if (e.isFile()) await chmod(path, privateFileMode);
  }
}

/**
 * An SQLite database file for root only: a missing directory is created 0700 (an existing one
 * is the user's and left alone), the file is created 0600 before SQLite opens it (SQLite gives
 * its -wal and -shm files the database file's mode), and an existing file and its -wal/-shm
 * from older versions are made 0600.
 */
export function prepareSqliteFile(path: string): void {
  if (path === ":memory:" || path === "") return;
  mkdirSync(dirname(path), { recursive: true, mode: privateDirMode });
  try {
    closeSync(openSync(path, "a", privateFileMode));
  } catch (err) {
    // Another user's file: SQLite's own open says what may be done with it.
    if ((err as NodeJS.ErrnoException).code !== "EACCES") throw err;
  }
  fixModesSync({ files: [path, `${path}-wal`, `${path}-shm`, `${path}-journal`] });
}
