import { createRouterTransport, type Interceptor, type Transport } from "@connectrpc/connect";
import { controlAuthorization, type Principal, principalKey } from "../auth/index.ts";
import { type ControlPlane, controlService } from "../controlplane/index.ts";
import { Control } from "../proto/gen/ateapi/control_pb.ts";
import { traceIncoming, traceOutgoing } from "../tracing/index.ts";

/**
 * The Control API in this process, as `principal`: the same service, messages and
 * authorization as over HTTP (a router principal may only do what a router token may), with
 * no socket in between. `ate up` gives it to its router, so the router runs the same RPCs in
 * one process as `ate router` does across machines.
 */
export function inProcessControlTransport(cp: ControlPlane, principal: Principal): Transport {
  const asPrincipal: Interceptor = (next) => (req) => {
    req.contextValues.set(principalKey, principal);
    return next(req);
  };
  return createRouterTransport((router) => router.service(Control, controlService(cp)), {
    router: { interceptors: [asPrincipal, controlAuthorization(), traceIncoming("controlplane")] },
    // Spans as over HTTP: the same trace tree in one process as across machines.
    transport: { interceptors: [traceOutgoing("router")] },
  });
}

/** The principal `ate up`'s router runs as (it holds no token: nothing crosses a socket). */
export function inProcessRouterPrincipal(): Principal {
  return { name: "ate-up-router", role: "router", createdAt: new Date().toISOString() };
}
