import type { Resource, ResourceType } from "../api/schema/index.ts";
import { apiVersionOf, groupOf } from "../api/schema/index.ts";
import { NamespaceType } from "../api/v1/index.ts";
import { authorizeResource, type Principal, type ResourceVerb } from "../auth/index.ts";
import { AteError, Code, httpStatus, toErrorBody } from "../errors/index.ts";
import { type ResourceStore, refuseDefaultDeletion } from "../resources/index.ts";
import { readDeleteOptions } from "./delete-options.ts";
import { parseFieldSelector } from "./field-selector.ts";
import type { Req, Res } from "./http-types.ts";
import { patchResource, UnsupportedPatch } from "./kube-patch.ts";
import { isKubeClient, kubeStatus, type StatusSubject } from "./kube-status.ts";
import { PayloadTooLarge, readJsonBody } from "./request-body.ts";
import { apiPrefix, coreApiPrefix, parseResourcePath } from "./resource-path.ts";
import { includeObjectParam, toTable, wantedTableVersion } from "./table.ts";

export type { Req, Res } from "./http-types.ts";

export { apiPrefix, coreApiPrefix, isResourcePath } from "./resource-path.ts";

/** Who a REST request comes from, as the server's edge found it. */
export interface RequestAccess {
  principal: Principal;
  /** The server runs with --debug: API clients may write status. */
  debug: boolean;
  /** Aborts when the caller's token stops being valid (revoked, expired): streams end. */
  revoked: AbortSignal;
}

/** JSON error body: the gRPC code name, the message, and one line per problem. */
export function sendError(res: Res, err: unknown, req?: Req, subject?: StatusSubject): void {
  const e = AteError.from(err);
  const headers: Record<string, string> = {};
  if (e.code === Code.Unauthenticated) headers["www-authenticate"] = 'Bearer realm="ate"';
  // Whatever is left of an oversized body is not read: the connection goes with it.
  if (e instanceof PayloadTooLarge && req?.httpVersionMajor === 1) headers.connection = "close";
  const http = e instanceof PayloadTooLarge ? 413 : e instanceof UnsupportedPatch ? 415 : undefined;
  // Kubernetes clients read a meta/v1 Status; ate's clients read ate's error body.
  if (req && isKubeClient(req.headers)) {
    const { status, body } = kubeStatus(e, subject ?? {}, http);
    send(res, status, body, headers);
  } else send(res, http ?? httpStatus(e.code), toErrorBody(e), headers);
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
 * `/apis/ate.dev/v1alpha1/[namespaces/NS/]PLURAL[/NAME[/status]]`, and the core kinds it
 * serves under `/api/v1/` (resource-path.ts), with `?watch=1` (NDJSON
 * stream), `?labelSelector=`, `?resourceVersion=` and `?dryRun=All`.
 */
export async function handleResources(
  store: ResourceStore,
  access: RequestAccess,
  req: Req,
  res: Res,
): Promise<void> {
  let subject: StatusSubject | undefined;
  try {
    const url = new URL(req.url ?? "/", "http://x");
    const prefix = url.pathname.startsWith(coreApiPrefix) ? coreApiPrefix : apiPrefix;
    const { type, namespace, name, sub } = parseResourcePath(
      url.pathname,
      decodeSegments(url.pathname.slice(prefix.length)),
    );
    subject = { kind: type.plural, group: groupOf(type), ...(name ? { name } : {}) };
    // kubectl's server-side printing and selection (src/server/table.ts, field-selector.ts).
    const table = wantedTableVersion(req.headers.accept);
    const include = includeObjectParam(url.searchParams.get("includeObject"));
    const selected = parseFieldSelector(url.searchParams.get("fieldSelector"));
    const dryRun = url.searchParams.get("dryRun") === "All";
    const method = req.method ?? "GET";
    const watch = method === "GET" && !name && !!url.searchParams.get("watch");
    const verb = verbOf(method, name, sub, watch);
    if (!verb) throw new AteError(Code.Unimplemented, `${method} ${url.pathname} is not supported`);
    authorizeResource(access.principal, verb, type.plural, { debug: access.debug });
    // The store's status write has no dry run: refused, rather than written for real.
    if (verb === "status" && dryRun)
      throw new AteError(
        Code.Unimplemented,
        `dryRun of a status write is not supported: leave dryRun out, or dry-run the object's own path`,
      );
    if (verb === "watch") {
      const ac = new AbortController();
      res.on("close", () => ac.abort());
      const signal = AbortSignal.any([ac.signal, access.revoked]);
      // client-go picks its decoder by content-type: JSON, one WatchEvent after another.
      const kube = isKubeClient(req.headers);
      res.writeHead(200, { "content-type": kube ? "application/json" : "application/x-ndjson" });
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
          if (selected && !selected(event.object)) continue;
          const object = table
            ? toTable(type, [event.object], { apiVersion: table, include })
            : event.object;
          res.write(`${JSON.stringify({ type: event.type, object })}\n`);
        }
      } catch (err) {
        if (signal.aborted) return void res.end();
        if (!kube) throw err;
        // A Kubernetes watch reports its end as an ERROR event (410 Expired: list again).
        const status = kubeStatus(AteError.from(err), subject).body;
        res.write(`${JSON.stringify({ type: "ERROR", object: status })}\n`);
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
      const items = selected ? list.items.filter(selected) : list.items;
      if (table) {
        const rv = list.resourceVersion;
        return send(
          res,
          200,
          toTable(type, items, { apiVersion: table, resourceVersion: rv, include }),
        );
      }
      return send(res, 200, {
        apiVersion: apiVersionOf(type),
        kind: `${type.kind}List`,
        metadata: { resourceVersion: list.resourceVersion },
        items,
      });
    }
    if (verb === "get") {
      const object = await store.get(type, namespace, name as string);
      return send(
        res,
        200,
        table ? toTable(type, [object], { apiVersion: table, include }) : object,
      );
    }
    if (method === "PATCH") {
      const o = { dryRun, status: verb === "status" };
      return send(res, 200, await patchResource(store, type, namespace, name as string, req, o));
    }
    if (verb === "create") {
      const body = await readResource(req, type);
      return send(res, 201, await store.create(type, withNamespace(body, namespace), { dryRun }));
    }
    if (verb === "status" || verb === "update") {
      // The object the path names is the one written: never another one the body names.
      const body = withNamespace(await readResource(req, type), namespace);
      if (body.metadata?.name !== name)
        throw new AteError(
          Code.InvalidArgument,
          `metadata.name ${JSON.stringify(body.metadata?.name ?? "")} does not match the name in the path (${JSON.stringify(name)}): PUT the object to its own path`,
        );
      if (verb === "status") return send(res, 200, await store.updateStatus(type, body));
      return send(res, 200, await store.update(type, body, { dryRun }));
    }
    const options = await readDeleteOptions(req);
    const rv = url.searchParams.get("resourceVersion") ?? options.resourceVersion;
    if (dryRun || options.dryRun) {
      // What would be deleted, checked as the delete would check it; nothing is.
      if (type.kind === NamespaceType.kind) refuseDefaultDeletion(name as string);
      const current = await store.get(type, namespace, name as string);
      if (rv && current.metadata.resourceVersion !== rv)
        throw new AteError(
          Code.Aborted,
          `the object has been modified (resourceVersion ${current.metadata.resourceVersion}, not ${rv}): get it again`,
        );
      return send(res, 200, current);
    }
    return send(
      res,
      200,
      await store.delete(type, namespace, name as string, rv ? { resourceVersion: rv } : {}),
    );
  } catch (err) {
    if (res.headersSent) res.end();
    else sendError(res, err, req, subject);
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
  if ((method === "PUT" || method === "PATCH") && name)
    return sub === "status" ? "status" : "update";
  if (method === "DELETE" && name && !sub) return "delete";
  return undefined;
}

async function readResource(req: Req, type: ResourceType): Promise<Resource> {
  const body = await readJsonBody(req);
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw new AteError(
      Code.InvalidArgument,
      "request body is not a JSON object: send one resource (apiVersion, kind, metadata, spec)",
    );
  // The path says what is written: a body naming another kind would be stored as that kind
  // under this one's key (a Secret that reads as a Namespace). Absent, they are the path's.
  const { apiVersion, kind } = body as { apiVersion?: unknown; kind?: unknown };
  const wanted = apiVersionOf(type);
  if (
    (apiVersion !== undefined && apiVersion !== wanted) ||
    (kind !== undefined && kind !== type.kind)
  )
    throw new AteError(
      Code.InvalidArgument,
      `apiVersion/kind ${JSON.stringify(String(apiVersion).slice(0, 60))}/${JSON.stringify(String(kind).slice(0, 60))}: this path takes ${wanted} ${type.kind}`,
    );
  return { ...(body as Resource), apiVersion: wanted, kind: type.kind };
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
