import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** A file's size and sha256 (hex), read as a stream (in 1 MiB pieces: fewer, cheaper turns). */
export async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest("hex") };
}
