import { create } from "@bufbuild/protobuf";
import type { Interceptor, StreamRequest, StreamResponse, UnaryRequest } from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import { controlCallerKey, goldenAtespace } from "../controlplane/index.ts";
import { toConnectError } from "../errors/connect.ts";
import { AteError, Code } from "../errors/index.ts";
import { Control, type ListAtespacesResponse } from "../proto/gen/ateapi/control_pb.ts";
import { checkLabel } from "../records/index.ts";
import { authorizeMachineCall, isMachineRole } from "./machine-policy.ts";
import { describePrincipal, type Principal } from "./principal.ts";
import { principalKey } from "./request-principal.ts";

/** The fields of Control requests that authorization looks at. */
export interface ControlRequest {
  actorRef?: { atespace: string; name: string } | undefined;
  /** ListActors, WatchActors. */
  atespace?: string;
  /** Atespace methods. */
  name?: string;
  /** Snapshot tag methods. */
  tagRef?: { atespace: string; name: string } | undefined;
}

/** Snapshot tag methods that name one tag: a tenant's own atespace's only. */
const tagMethods = new Set(["CreateSnapshotTag", "GetSnapshotTag", "DeleteSnapshotTag"]);

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
 * only, and a request for another atespace's actor is answered as if it did not exist. A
 * router may get and resume actors of every atespace (see machine-policy.ts); a node nothing.
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
  if (p.role === "actor") return authorizeActorSelf(p, method, ref);
  if (isMachineRole(p.role)) {
    authorizeMachineCall(p, "ateapi.Control", method);
    // A router serves every atespace; the ids are still checked as for anyone.
    if (actorWrites.has(method) || method === "GetActor") {
      checkLabel("actor_ref.atespace", ref.atespace);
      checkLabel("actor_ref.name", ref.name);
    }
    return "allow";
  }
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
  if (method === "ListActors" || method === "ListSnapshotTags") {
    if (!req.atespace || req.atespace === own) return { onlyAtespace: own };
    return "empty";
  }
  if (tagMethods.has(method)) {
    // Another atespace's tags are not there for a tenant (published ones are used by
    // CreateActor's source_tag, never read or changed).
    const tag = req.tagRef ?? { atespace: "", name: "" };
    checkLabel("tag_ref.atespace", tag.atespace);
    checkLabel("tag_ref.name", tag.name);
    if (tag.atespace === own) return "allow";
    if (method === "CreateSnapshotTag")
      throw new AteError(
        Code.PermissionDenied,
        `${describePrincipal(p)} may tag snapshots in atespace ${own} only, not ${tag.atespace}`,
      );
    throw new AteError(Code.NotFound, `snapshottag ${tag.atespace}/${tag.name} not found`);
  }
  if (method === "ListAtespaces") return { onlyAtespace: own };
  if (method === "WatchActors") {
    if (!req.atespace || req.atespace === own) return { onlyAtespace: own };
    throw new AteError(
      Code.PermissionDenied,
      `${describePrincipal(p)} may watch the actors of atespace ${own} only, not ${req.atespace}`,
    );
  }
  if (method === "ReportActivity")
    throw new AteError(
      Code.PermissionDenied,
      `${describePrincipal(p)} may not report actor activity: that needs a router token`,
    );
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

/** What an actor may do with its own token: these, on itself. */
const selfMethods: Record<string, string> = {
  GetActor: "get",
  SuspendActor: "suspend",
  PauseActor: "pause",
};

/**
 * An actor's own token (/run/ate/token) reaches the Control API for that actor only: it may
 * get, suspend or pause itself. Anything else — another actor, a listing, a create, another
 * atespace — is PERMISSION_DENIED naming what the token is for: the actor knows who it is,
 * so nothing is hidden by answering "not found" instead.
 */
function authorizeActorSelf(
  p: Principal,
  method: string,
  ref: { atespace: string; name: string },
): ControlDecision {
  const self = `${p.atespace}/${p.actor}`;
  const verb = selfMethods[method];
  if (!verb)
    throw new AteError(
      Code.PermissionDenied,
      `${describePrincipal(p)} may not call ${method}: an actor's token may only get, suspend or pause ${self} itself`,
    );
  checkLabel("actor_ref.atespace", ref.atespace);
  checkLabel("actor_ref.name", ref.name);
  if (ref.atespace === p.atespace && ref.name === p.actor) return "allow";
  throw new AteError(
    Code.PermissionDenied,
    `${describePrincipal(p)} may not ${verb} actor ${ref.atespace}/${ref.name}: an actor's token may only get, suspend or pause ${self} itself`,
  );
}

/** The Admin service: WhoAmI for any valid token, the rest for admins. */
export function authorizeAdmin(p: Principal, method: string): void {
  if (method === "WhoAmI" || p.role === "admin") return;
  throw new AteError(
    Code.PermissionDenied,
    `${describePrincipal(p)} may not call ${method}: the Admin API (tokens, garbage collection) needs an admin token`,
  );
}

type Next = Parameters<Interceptor>[0];

/**
 * A Control call as the policy decides, for a caller the edge already identified: refused,
 * passed on, or narrowed to the caller's atespace (ListActors and WatchActors are asked for
 * it, ListAtespaces' answer is filtered). Errors are AteErrors; the caller converts them.
 */
export async function authorizeControlCall(
  who: Principal,
  req: UnaryRequest | StreamRequest,
  next: Next,
): Promise<Awaited<ReturnType<Next>>> {
  const method = req.method.name;
  req.contextValues.set(controlCallerKey, who); // answers that depend on the caller read it
  if (req.stream) {
    // Server streams (WatchActors) carry one request message: authorized like a unary call's.
    if (req.method.methodKind !== "server_streaming" && who.role !== "admin")
      throw new AteError(Code.PermissionDenied, `${method} needs an admin token`);
    let message: ControlRequest | undefined;
    for await (const m of req.message) message = m as ControlRequest;
    if (!message) throw new AteError(Code.InvalidArgument, `${method}: no request message`);
    const decision = authorizeControl(who, method, message);
    if (decision === "empty") throw new AteError(Code.PermissionDenied, `may not call ${method}`);
    if (decision !== "allow") message.atespace = decision.onlyAtespace;
    return next({ ...req, message: createAsyncIterable([message]) } as StreamRequest);
  }
  const decision = authorizeControl(who, method, req.message as ControlRequest);
  if (decision === "allow") return next(req);
  if (decision === "empty") {
    // Answered by the real handler (so the protocol's headers are right), its content dropped.
    const res = await next(req);
    return res.stream ? res : { ...res, message: create(req.method.output) };
  }
  if (method === "ListActors" || method === "ListSnapshotTags") {
    (req.message as unknown as { atespace: string }).atespace = decision.onlyAtespace;
    return next(req);
  }
  const res = (await next(req)) as Exclude<Awaited<ReturnType<Next>>, StreamResponse>;
  const listed = res.message as ListAtespacesResponse;
  listed.atespaces = listed.atespaces.filter((a) => a.name === decision.onlyAtespace);
  return res;
}

/**
 * The Control service's authorization as an interceptor, for a transport without the API
 * server's edge (e.g. in process): the principal comes from principalKey, set by whoever
 * built the transport; calls are refused or narrowed exactly as at the edge.
 */
export function controlAuthorization(): Interceptor {
  return (next) => async (req) => {
    const who = req.contextValues.get(principalKey);
    if (!who || who instanceof AteError)
      throw toConnectError(who ?? new AteError(Code.Unauthenticated, "no credentials"));
    try {
      if (req.service.typeName !== Control.typeName)
        throw new AteError(Code.Unimplemented, `${req.service.typeName} is not served here`);
      authorizeMachineCall(who, req.service.typeName, req.method.name);
      return await authorizeControlCall(who, req, next);
    } catch (err) {
      throw toConnectError(err);
    }
  };
}
