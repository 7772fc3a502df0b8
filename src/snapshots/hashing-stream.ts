import { createHash } from "node:crypto";
import { pipeline, type Readable, Transform } from "node:stream";

/**
 * `body` through a pass-through that hashes and counts it, so a copy checks a snapshot file
 * against its manifest as it streams; an error of `body` ends the pass-through with that
 * error (an upload reading it fails instead of waiting forever).
 */
export function metered(
  body: Readable,
): Transform & { digest(): { sha256: string; size: number } } {
  const hash = createHash("sha256");
  let size = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  pipeline(body, t, () => {});
  let result: { sha256: string; size: number } | undefined;
  return Object.assign(t, {
    digest: () => {
      result ??= { sha256: hash.digest("hex"), size };
      return result;
    },
  });
}
