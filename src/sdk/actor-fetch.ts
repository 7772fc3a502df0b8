// HTTP to an actor through the router, by name: the router resumes a suspended actor on the
// request (and thaws a frozen one), so a caller never resumes it first.
import type { IncomingHttpHeaders } from "node:http";
import { Readable } from "node:stream";
import { AteError, Code } from "../errors/index.ts";
import { canceled } from "./call-error.ts";
import type { Endpoints } from "./options.ts";
import { request } from "./request.ts";

/** Statuses whose responses carry no body (the Response constructor refuses one). */
const nullBody = new Set([101, 103, 204, 205, 304]);

function responseHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    for (const value of Array.isArray(v) ? v : [v]) headers.append(k, value);
  }
  return headers;
}

/**
 * `fetch` to `path` (with its query) of the actor, through the router's path form
 * `/actors/<atespace>/<actor>/...`. Answers as fetch does (any status is a Response);
 * fails with an AteError: Canceled when `init.signal` aborts, Unavailable when the router
 * cannot be reached.
 */
export async function fetchActor(
  ep: Endpoints,
  atespace: string,
  name: string,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  if (!path.startsWith("/"))
    throw new AteError(Code.InvalidArgument, `path ${JSON.stringify(path)}: must start with /`);
  const url = `${ep.router}/actors/${encodeURIComponent(atespace)}/${encodeURIComponent(name)}${path}`;
  const signal = init.signal ?? undefined;
  const headers: Record<string, string> = {};
  let body: Uint8Array | undefined;
  if (init.body !== undefined && init.body !== null) {
    // Read whole, as fetch reads a non-stream body; its content type comes with it.
    const wrapped = new Response(init.body);
    body = new Uint8Array(await wrapped.arrayBuffer());
    const type = wrapped.headers.get("content-type");
    if (type) headers["content-type"] = type;
  }
  new Headers(init.headers).forEach((value, key) => {
    headers[key] = value;
  });
  if (body) headers["content-length"] = String(body.byteLength);
  try {
    const res = await request(url, {
      method: init.method ?? "GET",
      headers,
      body,
      signal,
      tls: ep.tls,
    });
    const status = res.statusCode ?? 502;
    const stream = nullBody.has(status) ? null : (Readable.toWeb(res) as ReadableStream);
    if (!stream) res.resume();
    return new Response(stream, {
      status,
      statusText: res.statusMessage ?? "",
      headers: responseHeaders(res.headers),
    });
  } catch (err) {
    if (signal?.aborted) throw canceled(signal);
    throw new AteError(
      Code.Unavailable,
      `cannot reach the ate router at ${ep.router}: ${(err as Error).message} (give connect() the router's URL: router, or ATE_ROUTER)`,
      [],
      { cause: err },
    );
  }
}
