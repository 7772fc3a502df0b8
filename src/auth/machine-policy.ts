import type { Interceptor, StreamRequest, UnaryRequest } from "@connectrpc/connect";
import { toConnectError } from "../errors/connect.ts";
import { AteError, Code } from "../errors/index.ts";
import { describePrincipal, type Principal, type Role } from "./principal.ts";
import { principalKey } from "./request-principal.ts";

/** The node membership service's proto name (proto/ateapi/node.proto). */
export const nodeRegistryService = "ateapi.NodeRegistry";

/**
 * The only RPCs ("<service>/<method>") a node or router token may make. Machine tokens live
 * on hosts that are easier to take than an admin's laptop: each may do what its component
 * needs and nothing else, so a stolen one cannot create actors, read logs or mint tokens.
 */
const machineCalls: Record<"node" | "router", ReadonlySet<string>> = {
  node: new Set([
    `${nodeRegistryService}/Register`,
    `${nodeRegistryService}/Heartbeat`,
    "ateapi.Admin/WhoAmI",
  ]),
  router: new Set([
    "ateapi.Control/GetActor",
    "ateapi.Control/ResumeActor",
    "ateapi.Control/WatchActors",
    "ateapi.Control/ReportActivity",
    "ateapi.Admin/WhoAmI",
  ]),
};

/** What a role may do, for refusals. */
export const roleScope: Record<Role, string> = {
  admin: "an admin token may do everything",
  tenant: "tenants may only read actortemplates and use the actors of their own atespace",
  node: "a node token may only register and heartbeat as a node and fetch runtime assets",
  router:
    "a router token may only get, resume and watch actors, report their activity and read actortemplates",
  actor: "an actor's token may only get, suspend or pause that actor itself",
};

export function isMachineRole(role: Role): role is "node" | "router" {
  return role === "node" || role === "router";
}

/**
 * Node and router tokens: refused every RPC not listed for their role, PERMISSION_DENIED
 * naming the role. Admin and tenant tokens pass through (their services' policies decide).
 */
export function authorizeMachineCall(p: Principal, service: string, method: string): void {
  if (!isMachineRole(p.role)) return;
  if (machineCalls[p.role].has(`${service}/${method}`)) return;
  throw new AteError(
    Code.PermissionDenied,
    `${describePrincipal(p)} may not call ${service}/${method}: ${roleScope[p.role]}`,
  );
}

/**
 * The NodeRegistry service: admins for any node; a node token only for the node of its own
 * name (`registration.name` of the request), so a stolen node token cannot take over, or keep
 * alive, another node's registration and with it that node's work.
 */
export function authorizeNodeRegistry(
  p: Principal,
  method: string,
  registrationName: string | undefined,
): void {
  if (p.role === "admin") return;
  if (p.role !== "node")
    throw new AteError(
      Code.PermissionDenied,
      `${describePrincipal(p)} may not call ${nodeRegistryService}/${method}: registering as a node needs a node token (ate create token NAME --node)`,
    );
  if (registrationName === p.name) return;
  throw new AteError(
    Code.PermissionDenied,
    `${describePrincipal(p)} may not ${method.toLowerCase()} as node ${JSON.stringify(String(registrationName ?? "").slice(0, 80))}: a node token acts only for the node of its name; start the node with --name ${p.name}, or give it a token of its own (ate create token NAME --node)`,
  );
}

/**
 * The NodeRegistry service's authorization as an interceptor, for a transport without the API
 * server's edge (in process): the principal comes from principalKey, set by whoever built the
 * transport; calls are refused exactly as at the edge.
 */
export function nodeRegistryAuthorization(): Interceptor {
  return (next) => async (req) => {
    const who = req.contextValues.get(principalKey);
    if (!who || who instanceof AteError)
      throw toConnectError(who ?? new AteError(Code.Unauthenticated, "no credentials"));
    try {
      if (req.service.typeName !== nodeRegistryService)
        throw new AteError(Code.Unimplemented, `${req.service.typeName} is not served here`);
      authorizeMachineCall(who, req.service.typeName, req.method.name);
      authorizeNodeRegistry(who, req.method.name, registrationName(req));
      return await next(req);
    } catch (err) {
      throw toConnectError(err);
    }
  };
}

/** The node name a NodeRegistry request (Register, Heartbeat: unary) acts for. */
export function registrationName(req: UnaryRequest | StreamRequest): string | undefined {
  if (req.stream) return undefined;
  const name = (req.message as { registration?: { name?: unknown } }).registration?.name;
  return typeof name === "string" ? name : undefined;
}

/**
 * `GET /assets/sha256/<hex>`: the runtime assets the control plane declared, for the nodes
 * that run them (and admins). Others are refused before anything tells whether it exists.
 */
export function authorizeAssetFetch(p: Principal): void {
  if (p.role === "admin" || p.role === "node") return;
  throw new AteError(
    Code.PermissionDenied,
    `${describePrincipal(p)} may not fetch runtime assets: that needs a node or admin token`,
  );
}
