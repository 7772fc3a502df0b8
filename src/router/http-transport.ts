import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { traceOutgoing } from "../tracing/index.ts";

/**
 * The Control API of a control plane over the network, for `ate router`: gRPC over HTTP/2 (one
 * connection carries the watch and every call), the router token sent with each call (and
 * an activation's traceparent with its ResumeActor).
 */
export function controlHttpTransport(server: string, token: string): Transport {
  return createGrpcTransport({
    baseUrl: server,
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      },
      traceOutgoing("router"),
    ],
  });
}
