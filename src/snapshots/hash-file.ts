import { createHash } from "node:crypto";
import { open } from "node:fs/promises";

/** Bytes read at a time: few turns of the event loop per file, little memory kept. */
const pieceBytes = 1024 * 1024;
/**
 * Read buffers kept for the next hash: a fresh buffer per piece (as a read stream makes) costs
 * a page fault per 4 KiB and garbage to collect, which made hashing a 9.5 MB checkpoint image
 * 2–4× slower than reading into one buffer (bench/node-agent.bench.ts). At most this many
 * are kept; more hashes at once allocate their own.
 */
const spare: Buffer[] = [];
const maxSpare = 4;

/** A file's size and sha256 (hex), read piece by piece into a reused buffer. */
export async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  const file = await open(path, "r");
  const buf = spare.pop() ?? Buffer.allocUnsafeSlow(pieceBytes);
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await file.read(buf, 0, buf.length, null);
      if (!bytesRead) break;
      hash.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    if (spare.length < maxSpare) spare.push(buf);
    await file.close();
  }
  return { size, sha256: hash.digest("hex") };
}
