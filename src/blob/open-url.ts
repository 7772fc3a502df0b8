import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { AteError, Code } from "../errors/index.ts";
import { type FileAccess, openConfinedFile } from "./confined-file.ts";
import { type HttpAccess, openPinnedHttp } from "./pinned-http.ts";
import { S3BlobStore } from "./s3-blob-store.ts";

export interface OpenedUrl {
  body: Readable;
  /** Size when the source tells it up front. */
  size?: number;
}

export interface OpenUrlOptions {
  /** What is being fetched, for messages, e.g. `asset runsc`. */
  what?: string;
  signal?: AbortSignal;
  /** Where file:// urls may be read from (required: there is no unconfined default). */
  file: FileAccess;
  /** Which http(s) (and gs) destinations may be reached. */
  http: HttpAccess;
}

/**
 * Opens any URL a SandboxConfig asset may name for reading: file:// (only under the allowed
 * directories), http(s):// (only to allowed addresses), s3:// (through the node's configured
 * S3 endpoint) and gs:// (public objects, read over HTTPS like any http url).
 */
export async function openUrl(url: string, options: OpenUrlOptions): Promise<OpenedUrl> {
  const what = options.what ?? "url";
  const signal = options.signal ? { signal: options.signal } : {};
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AteError(
      Code.InvalidArgument,
      `${what}: "${url}" is not a URL: use file://, http(s)://, s3:// or gs://`,
    );
  }
  switch (parsed.protocol) {
    case "file:": {
      let path: string;
      try {
        path = fileURLToPath(parsed);
      } catch (err) {
        throw new AteError(
          Code.InvalidArgument,
          `${what}: ${url} is not a local file url (${(err as Error).message}): use file:///absolute/path`,
        );
      }
      return openConfinedFile(url, path, what, options.file);
    }
    case "http:":
    case "https:":
      return openPinnedHttp(url, options.http, { what, ...signal });
    case "gs:":
      return openPinnedHttp(
        `https://storage.googleapis.com/${parsed.host}${parsed.pathname}`,
        options.http,
        { what, shown: url, ...signal },
      );
    case "s3:": {
      let key: string;
      try {
        key = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
      } catch {
        throw new AteError(
          Code.InvalidArgument,
          `${what}: ${url} is not a valid s3:// url (bad percent-encoding in its key): encode "%" as %25`,
        );
      }
      const store = new S3BlobStore(parsed.host, "");
      const info = await store.stat(key, signal);
      if (!info) throw new AteError(Code.NotFound, `${what}: ${url}: no such object`);
      return { body: await store.get(key, signal), size: info.size };
    }
    default:
      throw new AteError(
        Code.InvalidArgument,
        `${what}: ${url}: scheme ${parsed.protocol} is not supported: use file://, http(s)://, s3:// or gs://`,
      );
  }
}
