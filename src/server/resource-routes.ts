import type { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Resource } from "../api/schema/index.ts";
import { GROUP, VERSION } from "../api/schema/index.ts";
import { typeForName } from "../api/v1alpha1/index.ts";
import { authorizeResource, type Principal, type ResourceVerb } from "../auth/index.ts";
import { AteError, Code, httpStatus, toErrorBody } from "../errors/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import { PayloadTooLarge, readJsonBody } from "./request-body.ts";

/** The request and response types connect-node hands to its fallback handler. */
type Fallback = NonNullable<Parameters<typeof connectNodeAdapter>[0]["fallback"]>;
export type Req = Parameters<Fallback>[0];
export type Res = Parameters<Fallback>[1];

export const apiPrefix = `/apis/${GROUP}/${VERSION}/`;

/** Who a REST request comes from, as the server's edge found it. */
export interface RequestAccess {
  principal: Principal;
  /** The server runs with --debug: API clients may write status. */
  debug: boolean;
  /** Aborts when the caller's token stops being valid (revoked, expired): streams end. */
  revoked: AbortSignal;
}

/** JSON error body: the gRPC code name, the message, and one line per problem. */
export function sendError(res: Res, err: unknown, req?: Req): void {
  const e = AteError.from(err);
  const headers: Record<string, string> = {};
  if (e.code === Code.Unauthenticated) headers["www-authenticate"] = 'Bearer realm="ate"';
  // Whatever is left of an oversized body is not read: the connection goes with it.
  if (e instanceof PayloadTooLarge && req?.httpVersionMajor === 1) headers.connection = "close";
  send(res, e instanceof PayloadTooLarge ? 413 : httpStatus(e.code), toErrorBody(e), headers);
}

function send(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** A path's segments, decoded; a malformed percent-encoding is a 400 naming the segment. */
export function decodeSegments(pathname: string): string[] {
  return pathname
    .split("/")
    .filter(Boolean)
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        throw new AteError(
          Code.InvalidArgument,
          `path segment ${JSON.stringify(segment.slice(0, 100))} is not valid percent-encoding: encode "%" as %25`,
        );
      }
    });
}

/**
 * Kubernetes-style REST for ate's resources:
 * `/apis/ate.dev/v1alpha1/[namespaces/NS/]PLURAL[/NAME[/status]]`, with `?watch=1` (NDJSON
 * stream), `?labelSelector=`, `?resourceVersion=` and `?dryRun=All`.
 */
export async function handleResources(
  store: ResourceStore,
  access: RequestAccess,
  req: Req,
  res: Res,
): Promise<void> {
  try {
    const url = new URL(req.url ?? "/", "http://x");
    const parts = decodeSegments(url.pathname.slice(apiPrefix.length));
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
    const watch = method === "GET" && !name && !!url.searchParams.get("watch");
    const verb = verbOf(method, name, sub, watch);
    if (!verb) throw new AteError(Code.Unimplemented, `${method} ${url.pathname} is not supported`);
    authorizeResource(access.principal, verb, type.plural, { debug: access.debug });
    if (verb === "watch") {
      const ac = new AbortController();
      res.on("close", () => ac.abort());
      const signal = AbortSignal.any([ac.signal, access.revoked]);
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      // The status now, not with the first event (which may be long in coming).
      (res as { flushHeaders?: () => void }).flushHeaders?.();
      const rv = url.searchParams.get("resourceVersion") ?? "";
      try {
        for await (const event of store.watch({
          type,
          ...(namespace ? { namespace } : {}),
          resourceVersion: rv,
          signal,
        })) {
          res.write(`${JSON.stringify(event)}\n`);
        }
      } catch (err) {
        if (!signal.aborted) throw err;
      }
      res.end();
      return;
    }
    if (verb === "list") {
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
    if (verb === "get") return send(res, 200, await store.get(type, namespace, name as string));
    if (verb === "create") {
      const body = await readResource(req);
      return send(res, 201, await store.create(type, withNamespace(body, namespace), { dryRun }));
    }
    if (verb === "status" || verb === "update") {
      // The object the path names is the one written: never another one the body names.
      const body = withNamespace(await readResource(req), namespace);
      if (body.metadata?.name !== name)
        throw new AteError(
          Code.InvalidArgument,
          `metadata.name ${JSON.stringify(body.metadata?.name ?? "")} does not match the name in the path (${JSON.stringify(name)}): PUT the object to its own path`,
        );
      if (verb === "status") return send(res, 200, await store.updateStatus(type, body));
      return send(res, 200, await store.update(type, body, { dryRun }));
    }
    const rv = url.searchParams.get("resourceVersion");
    return send(
      res,
      200,
      await store.delete(type, namespace, name as string, rv ? { resourceVersion: rv } : {}),
    );
  } catch (err) {
    if (res.headersSent) res.end();
    else sendError(res, err, req);
  }
}

function verbOf(
  method: string,
  name: string | undefined,
  sub: string | undefined,
  watch: boolean,
): ResourceVerb | undefined {
  if (method === "GET") return watch ? "watch" : name ? "get" : "list";
  if (method === "POST" && !name) return "create";
  if (method === "PUT" && name) return sub === "status" ? "status" : "update";
  if (method === "DELETE" && name && !sub) return "delete";
  return undefined;
}

async function readResource(req: Req): Promise<Resource> {
  const body = await readJsonBody(req);
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw new AteError(
      Code.InvalidArgument,
      "request body is not a JSON object: send one resource (apiVersion, kind, metadata, spec)",
    );
  return body as Resource;
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
