import { fileURLToPath } from "node:url";
import { AteError, Code } from "../errors/index.ts";
import type { BlobStore } from "./blob-store.ts";
import { FileBlobStore } from "./file-blob-store.ts";
import { S3BlobStore, type S3Options } from "./s3-blob-store.ts";

/** The schemes openBlobStore can write snapshots to (the controllers refuse other locations). */
export const snapshotSchemes: readonly string[] = ["file:", "s3:"];

/** The one place a snapshot storage backend is chosen, by the location's scheme. */
export function openBlobStore(location: string, options: { s3?: S3Options } = {}): BlobStore {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new AteError(
      Code.InvalidArgument,
      `snapshot location "${location}" is not a URI: use file:///dir or s3://bucket/prefix`,
    );
  }
  if (url.protocol === "file:")
    return new FileBlobStore(fileURLToPath(url).replace(/\/+$/, "") || "/");
  if (url.protocol === "s3:")
    return new S3BlobStore(url.host, url.pathname.replace(/^\/+|\/+$/g, ""), options.s3);
  throw new AteError(
    Code.InvalidArgument,
    `snapshot location "${location}": scheme ${url.protocol} is not supported for writing snapshots: use file:// or s3://`,
  );
}
