import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { AteError, Code } from "../errors/index.ts";
import { S3BlobStore } from "./s3-blob-store.ts";

export interface OpenedUrl {
  body: Readable;
  /** Size when the source tells it up front. */
  size?: number;
}

/**
 * Opens any URL a SandboxConfig asset may name for reading: file://, http(s)://, s3:// and
 * gs:// (public objects, read over HTTPS).
 */
export async function openUrl(url: string, signal?: AbortSignal): Promise<OpenedUrl> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AteError(
      Code.InvalidArgument,
      `"${url}" is not a URL: use file://, http(s)://, s3:// or gs://`,
    );
  }
  switch (parsed.protocol) {
    case "file:": {
      const path = fileURLToPath(parsed);
      const s = await stat(path).catch(() => undefined);
      if (!s?.isFile()) throw new AteError(Code.NotFound, `${url}: no such file`);
      return { body: createReadStream(path), size: s.size };
    }
    case "http:":
    case "https:":
      return openHttp(url, signal);
    case "gs:":
      return openHttp(
        `https://storage.googleapis.com/${parsed.host}${parsed.pathname}`,
        signal,
        url,
      );
    case "s3:": {
      const key = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
      const store = new S3BlobStore(parsed.host, "");
      const info = await store.stat(key, signal ? { signal } : {});
      if (!info) throw new AteError(Code.NotFound, `${url}: no such object`);
      return { body: await store.get(key, signal ? { signal } : {}), size: info.size };
    }
    default:
      throw new AteError(
        Code.InvalidArgument,
        `${url}: scheme ${parsed.protocol} is not supported: use file://, http(s)://, s3:// or gs://`,
      );
  }
}

async function openHttp(
  url: string,
  signal: AbortSignal | undefined,
  shown = url,
): Promise<OpenedUrl> {
  let res: Response;
  try {
    res = await fetch(url, signal ? { signal } : {});
  } catch (err) {
    throw new AteError(
      Code.Unavailable,
      `${shown}: cannot be reached: ${(err as Error).cause ?? (err as Error).message}`,
      [],
      { cause: err },
    );
  }
  if (!res.ok || !res.body) {
    const code =
      res.status === 404
        ? Code.NotFound
        : res.status === 401 || res.status === 403
          ? Code.PermissionDenied
          : Code.Unavailable;
    throw new AteError(code, `${shown}: HTTP ${res.status} ${res.statusText}`);
  }
  const length = Number(res.headers.get("content-length"));
  return {
    body: Readable.fromWeb(res.body as import("node:stream/web").ReadableStream),
    ...(Number.isFinite(length) && res.headers.has("content-length") ? { size: length } : {}),
  };
}
