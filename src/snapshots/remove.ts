import type { BlobInfo, BlobStore } from "../blob/index.ts";
import { manifestName } from "./manifest.ts";

/**
 * Deletes a snapshot's objects (`files`: keys relative to the store), the manifest first: a
 * snapshot exists exactly while its manifest does, so a delete cut short (a crash, a killed
 * collector) leaves files no one can restore from and no record may point at — what the
 * collector's grace sweep removes later — never a manifest naming files that are gone.
 * Returns the bytes removed.
 */
export async function removeSnapshotObjects(
  store: BlobStore,
  files: readonly BlobInfo[],
  options: { signal?: AbortSignal; beforeEach?: (key: string) => Promise<void> | void } = {},
): Promise<number> {
  const ordered = [...files].sort((a, b) => Number(isManifest(b.key)) - Number(isManifest(a.key)));
  let bytes = 0;
  for (const f of ordered) {
    await options.beforeEach?.(f.key);
    await store.delete(f.key, options.signal ? { signal: options.signal } : {});
    bytes += f.size;
  }
  return bytes;
}

function isManifest(key: string): boolean {
  return key === manifestName || key.endsWith(`/${manifestName}`);
}
