import type { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Resource } from "../api/schema/index.ts";
import { GROUP, VERSION } from "../api/schema/index.ts";
import { typeForName } from "../api/v1alpha1/index.ts";
import { AteError, Code, httpStatus, toErrorBody } from "../errors/index.ts";
import type { ResourceStore } from "../resources/index.ts";

/** The request and response types connect-node hands to its fallback handler. */
type Fallback = NonNullable<Parameters<typeof connectNodeAdapter>[0]["fallback"]>;
export type Req = Parameters<Fallback>[0];
export type Res = Parameters<Fallback>[1];

export const apiPrefix = `/apis/${GROUP}/${VERSION}/`;

/** JSON error body: the gRPC code name, the message, and one line per problem. */
export function sendError(res: Res, err: unknown): void {
  const e = AteError.from(err);
  send(res, httpStatus(e.code), toErrorBody(e));
}

function send(res: Res, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

async function readJson(req: Req): Promise<Resource> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 4 * 1024 * 1024)
      throw new AteError(Code.InvalidArgument, "request body is larger than 4 MiB");
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString()) as Resource;
  } catch {
    throw new AteError(Code.InvalidArgument, "request body is not JSON");
  }
}

/**
 * Kubernetes-style REST for ate's resources:
 * `/apis/ate.dev/v1alpha1/[namespaces/NS/]PLURAL[/NAME[/status]]`, with `?watch=1` (NDJSON
 * stream), `?labelSelector=`, `?resourceVersion=` and `?dryRun=All`.
 */
export async function handleResources(store: ResourceStore, req: Req, res: Res): Promise<void> {
  try {
    const url = new URL(req.url ?? "/", "http://x");
    const parts = url.pathname
      .slice(apiPrefix.length)
      .split("/")
      .filter(Boolean)
      .map(decodeURIComponent);
    let namespace: string | undefined;
    if (parts[0] === "namespaces") {
      namespace = parts[1];
      parts.splice(0, 2);
    }
    const [plural, name, sub] = parts;
    if (!plural || parts.length > 3 || (sub && sub !== "status"))
      throw new AteError(Code.NotFound, `no route for ${url.pathname}`);
    const type = typeForName(plural);
    const dryRun = url.searchParams.get("dryRun") === "All";
    const method = req.method ?? "GET";
    if (method === "GET" && !name && url.searchParams.get("watch")) {
      const ac = new AbortController();
      res.on("close", () => ac.abort());
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      const rv = url.searchParams.get("resourceVersion") ?? "";
      for await (const event of store.watch({
        type,
        ...(namespace ? { namespace } : {}),
        resourceVersion: rv,
        signal: ac.signal,
      })) {
        res.write(`${JSON.stringify(event)}\n`);
      }
      res.end();
      return;
    }
    if (method === "GET" && !name) {
      const selector = url.searchParams.get("labelSelector");
      const list = await store.list(type, {
        ...(namespace ? { namespace } : {}),
        ...(selector ? { labelSelector: selector } : {}),
      });
      return send(res, 200, {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: `${type.kind}List`,
        metadata: { resourceVersion: list.resourceVersion },
        items: list.items,
      });
    }
    if (method === "GET" && name) return send(res, 200, await store.get(type, namespace, name));
    if (method === "POST" && !name) {
      const body = await readJson(req);
      return send(res, 201, await store.create(type, withNamespace(body, namespace), { dryRun }));
    }
    if (method === "PUT" && name && sub === "status")
      return send(
        res,
        200,
        await store.updateStatus(type, withNamespace(await readJson(req), namespace)),
      );
    if (method === "PUT" && name)
      return send(
        res,
        200,
        await store.update(type, withNamespace(await readJson(req), namespace), { dryRun }),
      );
    if (method === "DELETE" && name) {
      const rv = url.searchParams.get("resourceVersion");
      return send(
        res,
        200,
        await store.delete(type, namespace, name, rv ? { resourceVersion: rv } : {}),
      );
    }
    throw new AteError(Code.Unimplemented, `${method} ${url.pathname} is not supported`);
  } catch (err) {
    if (res.headersSent) res.end();
    else sendError(res, err);
  }
}

function withNamespace(body: Resource, namespace: string | undefined): Resource {
  if (!namespace) return body;
  if (body.metadata?.namespace && body.metadata.namespace !== namespace) {
    throw new AteError(
      Code.InvalidArgument,
      `metadata.namespace "${body.metadata.namespace}" does not match the namespace in the path ("${namespace}")`,
    );
  }
  return { ...body, metadata: { ...body.metadata, namespace } };
}
