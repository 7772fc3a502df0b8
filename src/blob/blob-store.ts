import type { Readable } from "node:stream";

export interface BlobInfo {
  key: string;
  size: number;
  /** Epoch ms of the last write, where the backend says (list does): the GC's grace period. */
  modifiedAt?: number;
}

export interface BlobOptions {
  signal?: AbortSignal;
}

/**
 * Where snapshots live: keys under one location (a local directory, an S3 bucket prefix).
 * Writes are whole-object and atomic: a reader never sees a partly written blob.
 */
export interface BlobStore {
  /** The location's URI, e.g. `file:///var/lib/ate/snapshots` or `s3://bucket/prefix`. */
  readonly uri: string;
  put(key: string, body: Readable | Buffer, options?: BlobOptions): Promise<void>;
  /**
   * Stores the local file at `localPath` under key, as put would, where the store can do it
   * without copying the bytes (a local directory on the same filesystem: a hard link). The
   * file is left where it is but may now share its bytes with the blob: the caller must not
   * change it in place afterwards (removing or replacing it is fine). Absent: use put.
   */
  putFile?(key: string, localPath: string, options?: BlobOptions): Promise<void>;
  /** NOT_FOUND when absent. */
  get(key: string, options?: BlobOptions): Promise<Readable>;
  stat(key: string, options?: BlobOptions): Promise<BlobInfo | undefined>;
  /** Keys (relative to the location) that start with prefix, in lexical order. */
  list(prefix: string, options?: BlobOptions): Promise<BlobInfo[]>;
  delete(key: string, options?: BlobOptions): Promise<void>;
}
