import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { type ConnectionLimits, dualProtocolServer, type Handler } from "../../http/index.ts";
import { type Logger, silentLogger } from "../../log/index.ts";
import { type Registry, serveMetrics } from "../../metrics/index.ts";
import { Node } from "../../proto/gen/ateapi/node_pb.ts";
import { traceIncoming } from "../../tracing/index.ts";
import type { NodeAgentApi } from "../api.ts";
import { requireBearer } from "./bearer.ts";
import { nodeService } from "./node-service.ts";

export interface NodeApiServerOptions {
  /** Default 127.0.0.1; a node on many machines listens on its --address. */
  host?: string;
  /** Default 7444; 0 picks a free one. */
  port?: number;
  agent: NodeAgentApi;
  /** The bearer secret every call must carry (the one the node sent in Register). */
  callSecret: string;
  logger?: Logger;
  /** Connection limits; defaults as the API server's. */
  limits?: ConnectionLimits;
  /**
   * Served at GET /metrics without the call secret (Prometheus has none): the node's metrics
   * carry latencies and byte counts, no atespace or actor names. Absent: no /metrics.
   */
  metrics?: Registry[];
}

export interface RunningNodeApiServer {
  /** e.g. http://10.0.0.5:7444 */
  url: string;
  close(): Promise<void>;
}

/** The largest request body (after decompression); node requests are small. */
const maxBodyBytes = 4 * 1024 * 1024;

/**
 * The node API (ateapi.Node) on one port, as gRPC over HTTP/2 and Connect over HTTP/1.1 (curl
 * works), every call authenticated by the node's call secret. Closing it ends every
 * connection, which aborts calls still running on the agent.
 */
export async function startNodeApiServer(o: NodeApiServerOptions): Promise<RunningNodeApiServer> {
  const log = o.logger ?? silentLogger;
  const handler = connectNodeAdapter({
    routes: (router) => router.service(Node, nodeService(o.agent)),
    // Spans only for authenticated calls: a stranger's traceparent makes none.
    interceptors: [requireBearer(o.callSecret), traceIncoming("node")],
    readMaxBytes: maxBodyBytes,
    fallback: (_req, res) => {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end("no such method: the node API is /ateapi.Node/<Method>\n");
    },
  });
  const edge: Handler = (req, res) => {
    if (o.metrics && req.method === "GET" && (req.url ?? "").split("?")[0] === "/metrics")
      return void serveMetrics(o.metrics, res);
    // Node keeps the first of several authorization headers; a proxy may judge by another.
    if (req.rawHeaders.filter((h, i) => i % 2 === 0 && /^authorization$/i.test(h)).length > 1) {
      res.writeHead(401, { "content-type": "text/plain; charset=utf-8" });
      return void res.end("send one authorization header\n");
    }
    handler(req as Parameters<typeof handler>[0], res as Parameters<typeof handler>[1]);
  };
  const { server, sockets } = dualProtocolServer(edge, o.limits);
  const host = o.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 7444, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log.info("node api listening", { url });
  return {
    url,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
