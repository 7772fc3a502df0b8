import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The dashboard's page: static files, the same for everyone, so served without a token (the
 * data comes from the authenticated /ui/api/events). Only these names: nothing else under the
 * folder, and no path from the request, ever reaches the file system.
 */
const files: Record<string, { file: string; type: string }> = {
  "/ui": { file: "index.html", type: "text/html; charset=utf-8" },
  "/ui/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/ui/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/ui/app.css": { file: "app.css", type: "text/css; charset=utf-8" },
};

// Beside this file in src/ (the package ships src/); the CLI bundle in dist/ points the URL
// back at src/ui/static (scripts/build.mjs rewrites `new URL("./…", import.meta.url)`).
const uiStaticDir = fileURLToPath(new URL("./static/", import.meta.url));

export const isUiStaticPath = (path: string): boolean => Object.hasOwn(files, path);

/**
 * Scripts and styles from this origin only, no inline script, no framing, no referrer: a
 * name that slipped past escaping could still not run, and the page cannot be clickjacked.
 */
const securityHeaders = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

export interface StaticResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(): unknown;
  end(body: Buffer | string): unknown;
}

export async function serveUiStatic(
  path: string,
  method: string | undefined,
  res: StaticResponse,
  dir = uiStaticDir,
): Promise<void> {
  const f = files[path];
  if (!f) throw new Error(`not a dashboard file: ${path}`);
  if (method !== "GET" && method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
    return void res.end(`${method} is not supported on ${path}: use GET\n`);
  }
  const body = await readFile(join(dir, f.file));
  res.writeHead(200, { "content-type": f.type, ...securityHeaders });
  if (method === "HEAD") res.end();
  else res.end(body);
}
