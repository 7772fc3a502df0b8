import { createRouterTransport, type Interceptor, type Transport } from "@connectrpc/connect";
import { nodeRegistryAuthorization, type Principal, principalKey } from "../auth/index.ts";
import { AteError, Code } from "../errors/index.ts";
import { NodeClient, type NodeRegistryApi, nodeRegistryService } from "../node/index.ts";
import { NodeRegistry } from "../proto/gen/ateapi/node_pb.ts";
import type { NodeRecord } from "../records/index.ts";
import type { RunningNode } from "./node-component.ts";

/**
 * The NodeRegistry service in this process, as `principal`: the same service, messages and
 * authorization (a node principal registers only its own name) as over HTTP, with no socket
 * in between. `ate up`'s node registers and heartbeats through it.
 */
export function inProcessRegistryTransport(
  registry: NodeRegistryApi,
  principal: Principal,
): Transport {
  const asPrincipal: Interceptor = (next) => (req) => {
    req.contextValues.set(principalKey, principal);
    return next(req);
  };
  return createRouterTransport(
    (router) => router.service(NodeRegistry, nodeRegistryService(registry)),
    { router: { interceptors: [asPrincipal, nodeRegistryAuthorization()] } },
  );
}

/** The principal `ate up`'s node registers as (it holds no token: nothing crosses a socket). */
export function inProcessNodePrincipal(name: string): Principal {
  return { name, role: "node", createdAt: new Date().toISOString() };
}

/**
 * The control plane's dial for `ate up`: its one node's API through the in-process Node
 * transport (the same service, checks and call-secret authentication as over HTTP). A record
 * of any other node (another `ate up` on a shared Valkey), or one registered with another
 * secret, is not reachable from here.
 */
export function inProcessDial(node: () => RunningNode | undefined) {
  return (record: NodeRecord) => {
    const n = node();
    if (!n || record.name !== n.name || record.callSecret !== n.callSecret)
      throw new AteError(
        Code.Unavailable,
        `node ${record.name} is not this ate up's node: it cannot be called from here`,
      );
    return new NodeClient(n.transport, `node ${record.name}`);
  };
}
