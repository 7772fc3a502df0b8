import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  type Stats,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { AteError, Code } from "../errors/index.ts";
import { privateDirMode, privateFileMode } from "./private-files.ts";

/** Far more than a token or a CLI config holds: a bigger file is not one of ours. */
const maxPrivateFileBytes = 1024 * 1024;

/**
 * What stands at `path` when it may be read or replaced as one of our private files: nothing
 * (undefined), or a regular file of this user's. A symlink is not followed (it would make us
 * read or replace a file someone else chose), a FIFO or device not opened (it could block or
 * have effects), another user's file not taken over: each is an error naming the path.
 */
function checkOwnRegularFile(path: string): Stats | undefined {
  let s: Stats;
  try {
    s = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const refuse = (what: string) =>
    new AteError(
      Code.FailedPrecondition,
      `${path} ${what}: it is left alone; remove it, or name a regular file of your own`,
    );
  if (s.isSymbolicLink()) throw refuse("is a symbolic link, which is not followed");
  if (!s.isFile()) throw refuse("is not a regular file");
  const me = process.geteuid?.();
  if (me !== undefined && s.uid !== me)
    throw refuse(`belongs to another user (uid ${s.uid}), not to this one (uid ${me})`);
  return s;
}

/**
 * The text of a private file (a token, the CLI config), or undefined when there is none.
 * Only a regular file of this user's is read, without following a symlink (see
 * checkOwnRegularFile), and at most 1 MiB of it.
 */
export function readPrivateFile(path: string): string | undefined {
  if (!checkOwnRegularFile(path)) return undefined;
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const s = fstatSync(fd);
    // Swapped for something else since the check: not ours to read.
    if (!s.isFile()) throw new AteError(Code.FailedPrecondition, `${path} changed while read`);
    if (s.size > maxPrivateFileBytes)
      throw new AteError(
        Code.FailedPrecondition,
        `${path} is ${s.size} bytes, more than any file of ate's: it is left alone`,
      );
    const buf = Buffer.alloc(s.size);
    let n = 0;
    while (n < buf.length) {
      const read = readSync(fd, buf, n, buf.length - n, n);
      if (read === 0) break;
      n += read;
    }
    return buf.subarray(0, n).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a file readable by its owner only (0600), atomically: a temp file beside it, then a
 * rename, so a reader (or a crash) never sees half of it. Creates the directory (0700). What
 * it replaces must be nothing or a regular file of this user's (not a symlink to somewhere
 * else, not another user's file). The temp file is made with O_EXCL and O_NOFOLLOW and its
 * mode set through its descriptor, so nothing put in its place is chmodded or written.
 */
export function writePrivateFile(path: string, text: string): void {
  checkOwnRegularFile(path);
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: privateDirMode });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const fd = openSync(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      privateFileMode,
    );
    try {
      fchmodSync(fd, privateFileMode); // whatever the umask
      const buf = Buffer.from(text);
      let n = 0;
      while (n < buf.length) n += writeSync(fd, buf, n);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
