import { goldenAtespace } from "../controlplane/index.ts";
import { AteError, Code } from "../errors/index.ts";
import { checkLabel } from "../records/index.ts";
import { describePrincipal, type Principal } from "./principal.ts";

/** The fields of Control requests that authorization looks at. */
export interface ControlRequest {
  actorRef?: { atespace: string; name: string } | undefined;
  /** ListActors. */
  atespace?: string;
  /** Atespace methods. */
  name?: string;
}

/**
 * allow: as asked. onlyAtespace: a listing the caller may see only one atespace of (ListActors
 * is asked for it; ListAtespaces' answer is filtered to it). empty: an empty listing.
 */
export type ControlDecision = "allow" | { onlyAtespace: string } | "empty";

const actorWrites = new Set([
  "CreateActor",
  "UpdateActor",
  "SuspendActor",
  "PauseActor",
  "ResumeActor",
  "DeleteActor",
]);

/** Methods only admins may call (besides those refused to everyone). */
const adminOnly: Record<string, string> = {
  ListWorkers: "list workers",
  CreateAtespace: "create atespaces",
  DeleteAtespace: "delete atespaces",
  DebugClear: "clear records",
};

const reserved = (what: string) =>
  new AteError(
    Code.PermissionDenied,
    `${what}: atespace ${goldenAtespace} is reserved for the golden snapshots ate's ActorTemplate controller makes; use another atespace`,
  );

/**
 * What a caller may do with a Control method (by its proto name). Admins may do everything
 * but touch the reserved atespace `ate-golden`; a tenant may use actors of its own atespace
 * only, and a request for another atespace's actor is answered as if it did not exist.
 */
export function authorizeControl(
  p: Principal,
  method: string,
  req: ControlRequest,
): ControlDecision {
  const ref = req.actorRef ?? { atespace: "", name: "" };
  if (actorWrites.has(method) && ref.atespace === goldenAtespace)
    throw reserved(`${method} ${ref.atespace}/${ref.name}`);
  if ((method === "CreateAtespace" || method === "DeleteAtespace") && req.name === goldenAtespace)
    throw reserved(`${method} ${req.name}`);
  if (p.role === "admin") return "allow";
  const own = p.atespace as string;
  if (actorWrites.has(method) || method === "GetActor") {
    // The same checks, in the same order, as the control plane makes: a bad id is a bad id.
    checkLabel("actor_ref.atespace", ref.atespace);
    checkLabel("actor_ref.name", ref.name);
    if (ref.atespace === own) return "allow";
    if (method === "CreateActor")
      throw new AteError(
        Code.FailedPrecondition,
        `atespace ${ref.atespace} does not exist: create it first`,
      );
    throw new AteError(Code.NotFound, `actor ${ref.atespace}/${ref.name} not found`);
  }
  if (method === "ListActors") {
    if (!req.atespace || req.atespace === own) return { onlyAtespace: own };
    return "empty";
  }
  if (method === "ListAtespaces") return { onlyAtespace: own };
  if (method === "GetAtespace") {
    checkLabel("name", req.name ?? "");
    if (req.name === own) return "allow";
    throw new AteError(Code.NotFound, `atespace ${req.name} not found`);
  }
  const what = adminOnly[method] ?? `call ${method}`;
  throw new AteError(
    Code.PermissionDenied,
    `${describePrincipal(p)} may not ${what}: that needs an admin token`,
  );
}

/** The Admin service: WhoAmI for any valid token, the rest for admins. */
export function authorizeAdmin(p: Principal, method: string): void {
  if (method === "WhoAmI" || p.role === "admin") return;
  throw new AteError(
    Code.PermissionDenied,
    `${describePrincipal(p)} may not call ${method}: managing tokens needs an admin token`,
  );
}
