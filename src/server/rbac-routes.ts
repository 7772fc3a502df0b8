// Kubernetes RBAC documents, for kubectl. Manifests written for Agent Substrate carry Roles and
// RoleBindings beside their ate.dev documents; `ate apply` skips them with a line each, and so
// that `kubectl apply -f` takes the same files whole, the API accepts them here and stores
// nothing: ate enforces its own access rules (API tokens scoped to atespaces), not RBAC. Every
// answer carries a Warning header saying so, which kubectl prints.
import { authorizeResource, type ResourceVerb } from "../auth/index.ts";
import { AteError, Code } from "../errors/index.ts";
import { readDeleteOptions } from "./delete-options.ts";
import { readJsonBody } from "./request-body.ts";
import {
  decodeSegments,
  type Req,
  type RequestAccess,
  type Res,
  sendError,
} from "./resource-routes.ts";

export const rbacGroup = "rbac.authorization.k8s.io";
const prefix = `/apis/${rbacGroup}/v1/`;

/** The RBAC kinds accepted, for discovery (src/server/discovery.ts) and routing. */
export const rbacKinds = [
  { kind: "Role", plural: "roles", singular: "role", namespaced: true },
  { kind: "RoleBinding", plural: "rolebindings", singular: "rolebinding", namespaced: true },
  { kind: "ClusterRole", plural: "clusterroles", singular: "clusterrole", namespaced: false },
  {
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    singular: "clusterrolebinding",
    namespaced: false,
  },
] as const;

const warning =
  '299 - "ate stores no Kubernetes RBAC: it enforces its own access rules (API tokens scoped to atespaces)"';

export function isRbacPath(pathname: string): boolean {
  return pathname.startsWith(prefix);
}

function send(res: Res, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    warning,
  });
  res.end(text);
}

/**
 * `/apis/rbac.authorization.k8s.io/v1/[namespaces/NS/]PLURAL[/NAME]`: a create answers the
 * object as sent, a delete succeeds, a read finds nothing. Only admins may send them, as any
 * write of a resource; the errors go through the caller's (Status for kubectl).
 */
export async function handleRbac(access: RequestAccess, req: Req, res: Res): Promise<void> {
  try {
    await answer(access, req, res);
  } catch (err) {
    if (res.headersSent) res.end();
    else sendError(res, err, req);
  }
}

async function answer(access: RequestAccess, req: Req, res: Res): Promise<void> {
  const url = new URL(req.url ?? "/", "http://x");
  const parts = decodeSegments(url.pathname.slice(prefix.length));
  let namespace: string | undefined;
  if (parts[0] === "namespaces" && parts.length > 2) {
    namespace = parts[1];
    parts.splice(0, 2);
  }
  const [plural, name, ...rest] = parts;
  const rk = rbacKinds.find((k) => k.plural === plural);
  const misplaced = rk?.namespaced
    ? name !== undefined && namespace === undefined
    : namespace !== undefined;
  if (!rk || rest.length || misplaced)
    throw new AteError(Code.NotFound, `no route for ${url.pathname}`);
  const method = req.method ?? "GET";
  const watch = method === "GET" && !name && !!url.searchParams.get("watch");
  const verb: ResourceVerb | undefined =
    method === "GET"
      ? watch
        ? "watch"
        : name
          ? "get"
          : "list"
      : method === "POST" && !name
        ? "create"
        : method === "DELETE" && name
          ? "delete"
          : undefined;
  if (!verb)
    throw new AteError(
      Code.Unimplemented,
      `${method} ${url.pathname}: ate stores no RBAC to change`,
    );
  authorizeResource(access.principal, verb, rk.plural);
  const resource = `${rk.plural}.${rbacGroup}`;
  if (verb === "get")
    throw new AteError(Code.NotFound, `${resource} "${name}" not found: ate stores no RBAC`);
  if (verb === "list")
    return send(res, 200, {
      apiVersion: `${rbacGroup}/v1`,
      kind: `${rk.kind}List`,
      metadata: { resourceVersion: "0" },
      items: [],
    });
  if (verb === "watch") {
    // Nothing ever changes: the stream stays open, empty, until the caller goes.
    res.writeHead(200, { "content-type": "application/json", warning });
    (res as { flushHeaders?: () => void }).flushHeaders?.();
    await new Promise<void>((resolve) => {
      res.on("close", resolve);
      access.revoked.addEventListener("abort", () => resolve());
    });
    return void res.end();
  }
  if (verb === "delete") {
    await readDeleteOptions(req);
    return send(res, 200, {
      kind: "Status",
      apiVersion: "v1",
      status: "Success",
      details: { name, group: rbacGroup, kind: rk.plural },
    });
  }
  const body = await readJsonBody(req);
  const object = body as {
    apiVersion?: unknown;
    kind?: unknown;
    metadata?: { name?: unknown; namespace?: unknown };
  };
  if (object === null || typeof object !== "object" || Array.isArray(object))
    throw new AteError(
      Code.InvalidArgument,
      `request body is not a JSON object: send one ${rk.kind}`,
    );
  if (object.apiVersion !== `${rbacGroup}/v1` || object.kind !== rk.kind)
    throw new AteError(
      Code.InvalidArgument,
      `apiVersion/kind ${JSON.stringify(String(object.apiVersion).slice(0, 60))}/${JSON.stringify(String(object.kind).slice(0, 60))}: this path takes ${rbacGroup}/v1 ${rk.kind}`,
    );
  const meta = object.metadata;
  if (typeof meta?.name !== "string" || !meta.name)
    throw new AteError(Code.InvalidArgument, "metadata.name: Required value");
  if (namespace && meta.namespace !== undefined && meta.namespace !== namespace)
    throw new AteError(
      Code.InvalidArgument,
      `metadata.namespace ${JSON.stringify(String(meta.namespace).slice(0, 60))} does not match the namespace in the path (${JSON.stringify(namespace)})`,
    );
  send(res, 201, { ...object, metadata: { ...meta, ...(namespace ? { namespace } : {}) } });
}
