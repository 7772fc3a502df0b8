import { AteError, Code } from "../errors/index.ts";
import { checkLabel } from "../records/index.ts";
import { isMachineRole, roleScope } from "./machine-policy.ts";
import { describePrincipal, type Principal, type Role } from "./principal.ts";

export type ResourceVerb = "get" | "list" | "watch" | "create" | "update" | "delete" | "status";

const reads = new Set<ResourceVerb>(["get", "list", "watch"]);

/** The kinds (plural) each role but admin may read. */
const readable: Record<Exclude<Role, "admin">, ReadonlySet<string>> = {
  tenant: new Set(["actortemplates"]),
  router: new Set(["actortemplates"]),
  node: new Set(),
  actor: new Set(),
};

const verbText: Record<ResourceVerb, string> = {
  get: "get",
  list: "list",
  watch: "watch",
  create: "create",
  update: "update",
  delete: "delete",
  status: "write the status of",
};

/**
 * Who may do what to resources over REST. Status belongs to ate's controllers (which write it
 * in process): no API client writes it, admin included, unless the server runs with debug.
 * Tenants and routers may only read ActorTemplates; nodes nothing.
 */
export function authorizeResource(
  p: Principal,
  verb: ResourceVerb,
  plural: string,
  o: { debug?: boolean } = {},
): void {
  if (verb === "status" && !o.debug)
    throw new AteError(
      Code.PermissionDenied,
      `the status of ${plural} is written by ate's controllers only: PUT .../status is refused to API clients (start the server with --debug to allow it)`,
    );
  if (p.role === "admin") return;
  if (reads.has(verb) && readable[p.role].has(plural)) return;
  throw new AteError(
    Code.PermissionDenied,
    `${describePrincipal(p)} may not ${verbText[verb]} ${plural}: ${roleScope[p.role]}; that needs an admin token`,
  );
}

/**
 * Discovery and OpenAPI (/api, /apis, /openapi/v2): any caller with a valid token may read
 * them, as on a Kubernetes API server, but an actor's own token: it opens its actor's
 * get/suspend/pause and nothing else, a schema included.
 */
export function authorizeApiDiscovery(p: Principal): void {
  if (p.role !== "actor") return;
  throw new AteError(
    Code.PermissionDenied,
    `${describePrincipal(p)} may not read the API's discovery or OpenAPI documents: ${roleScope[p.role]}`,
  );
}

/**
 * An actor's logs: admins any, a tenant its own atespace's; another atespace's actor is
 * answered as if it did not exist.
 */
export function authorizeActorLogs(p: Principal, ref: { atespace: string; name: string }): void {
  if (p.role === "admin") return;
  if (isMachineRole(p.role) || p.role === "actor")
    throw new AteError(
      Code.PermissionDenied,
      `${describePrincipal(p)} may not read actors' logs: ${roleScope[p.role]}`,
    );
  checkLabel("actor_ref.atespace", ref.atespace);
  checkLabel("actor_ref.name", ref.name);
  if (ref.atespace !== p.atespace)
    throw new AteError(Code.NotFound, `actor ${ref.atespace}/${ref.name} not found`);
}
