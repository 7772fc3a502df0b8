import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { parseToken } from "../auth/index.ts";
import { AteError, Code } from "../errors/index.ts";

/** More than any token file holds (a token and a newline); a larger file is not one. */
const maxBytes = 4096;

/**
 * A machine's token from `--token-file`: read once, trimmed, and refused — naming the file —
 * when anyone but its owner may read or write it (another user of the host could take the
 * node's or router's identity), when it is not a regular file, or when it holds no token.
 */
export function readTokenFile(path: string, flag = "--token-file"): string {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AteError(
      Code.InvalidArgument,
      `${flag} ${path}: cannot read it (${code ?? String(err)}): give the file holding this host's token (ate create token NAME --node or --router prints one)`,
    );
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new AteError(
        Code.InvalidArgument,
        `${flag} ${path}: not a regular file: give the file holding this host's token`,
      );
    if (st.mode & 0o077)
      throw new AteError(
        Code.PermissionDenied,
        `${flag} ${path}: its mode ${(st.mode & 0o777).toString(8).padStart(4, "0")} lets its group or others read or write it: make it its owner's only (chmod 600 ${path})`,
      );
    const buf = Buffer.alloc(maxBytes + 1);
    let size = 0;
    for (let n = 1; n > 0 && size <= maxBytes; size += n)
      n = readSync(fd, buf, size, buf.length - size, null);
    if (size > maxBytes)
      throw new AteError(
        Code.InvalidArgument,
        `${flag} ${path}: larger than ${maxBytes} bytes, so not a token file: give the file holding this host's token`,
      );
    const token = buf.subarray(0, size).toString("utf8").trim();
    if (!token)
      throw new AteError(
        Code.InvalidArgument,
        `${flag} ${path}: the file is empty: put this host's token in it (ate create token NAME --node or --router prints one)`,
      );
    if (!parseToken(token))
      throw new AteError(
        Code.InvalidArgument,
        `${flag} ${path}: does not hold an ate token (ate_<name>_<64 hex digits>): put this host's token in it, alone`,
      );
    return token;
  } finally {
    closeSync(fd);
  }
}
