export type { BlobInfo, BlobOptions, BlobStore } from "./blob-store.ts";
export type { FileAccess } from "./confined-file.ts";
export { openBlobStore, snapshotSchemes } from "./factory.ts";
export { FileBlobStore } from "./file-blob-store.ts";
export { checkKey, joinKey } from "./keys.ts";
export { type OpenedUrl, type OpenUrlOptions, openUrl } from "./open-url.ts";
export type { HttpAccess } from "./pinned-http.ts";
export { S3BlobStore, type S3Options } from "./s3-blob-store.ts";
