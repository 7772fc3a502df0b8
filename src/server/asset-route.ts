import { pipeline } from "node:stream/promises";
import { authorizeAssetFetch } from "../auth/index.ts";
import { AteError, Code } from "../errors/index.ts";
import type { Req, RequestAccess, Res } from "./resource-routes.ts";
import { sendError } from "./resource-routes.ts";
import { assetsPathPrefix, type ServedAssets } from "./served-assets.ts";

/** Exactly `/assets/sha256/<64 lower-case hex>`: nothing else under /assets/ names an asset. */
const assetPath = /^\/assets\/sha256\/([0-9a-f]{64})$/;

/** Whether a request's raw path (before any decoding or dot-segment removal) is for assets. */
export function isAssetsPath(rawPath: string): boolean {
  return rawPath === "/assets" || rawPath.startsWith("/assets/");
}

/**
 * `GET /assets/sha256/<hex>` (and HEAD): a runtime asset this control plane declared, streamed
 * with its Content-Length, for node and admin tokens. The raw path is matched as sent, so no
 * spelling (`..`, `%2e%2e`, upper-case or longer hex) reaches anything but a 404; the file is
 * never read whole, and the stream stops when the client goes or its token is revoked.
 */
export async function handleAsset(
  served: ServedAssets | undefined,
  access: RequestAccess,
  rawPath: string,
  req: Req,
  res: Res,
): Promise<void> {
  let handle: Awaited<ReturnType<ServedAssets["open"]>>["handle"] | undefined;
  try {
    authorizeAssetFetch(access.principal);
    if (req.method !== "GET" && req.method !== "HEAD")
      throw new AteError(
        Code.InvalidArgument,
        `${req.method} is not supported on assets: use GET ${assetsPathPrefix}<sha256>`,
      );
    const sha256 = assetPath.exec(rawPath)?.[1];
    if (!sha256 || !served)
      throw new AteError(
        Code.NotFound,
        `no asset at ${JSON.stringify(rawPath.slice(0, 200))}: assets are served as ${assetsPathPrefix}<64 lower-case hex sha256>, and only those this control plane declared`,
      );
    const opened = await served.open(sha256);
    handle = opened.handle;
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": String(opened.size),
      // Named by its content: a copy never goes stale.
      "cache-control": "private, max-age=31536000, immutable",
      etag: `"sha256:${sha256}"`,
    });
    if (req.method === "HEAD") return void res.end();
    const ac = new AbortController();
    res.on("close", () => ac.abort());
    await pipeline(
      handle.createReadStream({ start: 0, end: Math.max(0, opened.size - 1), autoClose: false }),
      res,
      { signal: AbortSignal.any([ac.signal, access.revoked]) },
    );
  } catch (err) {
    if (!res.headersSent) sendError(res, err, req);
    // Cut short mid-body: the client sees a short body against Content-Length and discards it.
    else res.destroy();
  } finally {
    await handle?.close().catch(() => {});
  }
}
