import { type BlobStore, openBlobStore } from "../blob/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { readManifest } from "./io.ts";
import type { SnapshotManifest } from "./manifest.ts";

export interface CommittedOptions {
  /** How to open the snapshot's storage; default openBlobStore (file, S3, GCS, HTTP). */
  open?: (uri: string) => BlobStore;
  signal?: AbortSignal;
}

/**
 * Is the snapshot at `uri` committed? Its manifest is written last, so a snapshot is
 * committed exactly when its manifest is present and valid: then its manifest, else
 * undefined (absent, or unusable: a half-written or foreign manifest commits nothing, and a
 * format this version cannot read is a snapshot it cannot use). When the storage cannot be
 * asked (UNAVAILABLE, PERMISSION_DENIED, …) it throws: "not committed" would be a guess.
 */
export async function committedSnapshot(
  uri: string,
  options: CommittedOptions = {},
): Promise<SnapshotManifest | undefined> {
  const store = (options.open ?? openBlobStore)(uri);
  try {
    return await readManifest(store, uri, options.signal);
  } catch (err) {
    if (isAteError(err, Code.NotFound)) return undefined;
    if (isAteError(err, Code.DataLoss) || isAteError(err, Code.FailedPrecondition))
      return undefined;
    throw err;
  }
}
