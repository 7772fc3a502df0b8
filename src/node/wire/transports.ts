import { createRouterTransport, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Node } from "../../proto/gen/ateapi/node_pb.ts";
import { traceIncoming, traceOutgoing } from "../../tracing/index.ts";
import type { NodeAgentApi } from "../api.ts";
import { bearer, requireBearer } from "./bearer.ts";
import { nodeService } from "./node-service.ts";

/** The most a node's answer may be (a log piece is 1 MiB; a worker list is small). */
const maxAnswerBytes = 8 * 1024 * 1024;

/**
 * The node API of `agent` in this process, through the same service, checks and
 * authentication as over the network: `ate up` runs the RPCs a cluster runs.
 */
export function inProcessNodeTransport(agent: NodeAgentApi, callSecret: string): Transport {
  return createRouterTransport((router) => router.service(Node, nodeService(agent)), {
    router: { interceptors: [requireBearer(callSecret), traceIncoming("node")] },
    transport: { interceptors: [bearer(callSecret), traceOutgoing("controlplane")] },
  });
}

/**
 * A node's API over the network (gRPC over HTTP/2 without TLS: calls share one connection, and
 * a cancelled call resets only its stream), presenting the node's call secret and, for calls
 * made inside a trace (a resume's restore), its traceparent.
 */
export function nodeHttpTransport(url: string, callSecret: string): Transport {
  return createGrpcTransport({
    baseUrl: url,
    interceptors: [bearer(callSecret), traceOutgoing("controlplane")],
    readMaxBytes: maxAnswerBytes,
  });
}

/** The control plane's API for a node (its NodeRegistry), presenting the node's token. */
export function registryHttpTransport(serverUrl: string, nodeToken: string): Transport {
  return createGrpcTransport({
    baseUrl: serverUrl,
    interceptors: [bearer(nodeToken)],
    readMaxBytes: maxAnswerBytes,
  });
}
