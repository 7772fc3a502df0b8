import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { type ControlPlane, controlService } from "../controlplane/index.ts";
import { AteError, Code } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import { Control } from "../proto/gen/ateapi/control_pb.ts";
import type { ResourceStore } from "../resources/index.ts";
import { ateVersion } from "../version.ts";
import { withContractStatuses } from "./contract-status.ts";
import { dualProtocolServer } from "./dual-protocol.ts";
import { handleLogs, logsPath } from "./logs-route.ts";
import { apiPrefix, handleResources, sendError } from "./resource-routes.ts";

export interface ApiServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 7443; 0 picks a free port. */
  port?: number;
  controlPlane: ControlPlane;
  resources: ResourceStore;
  logger: Logger;
}

export interface RunningApiServer {
  /** e.g. http://127.0.0.1:7443 */
  url: string;
  close(): Promise<void>;
}

/**
 * The ate API on one port: the Control service as gRPC (HTTP/2) and Connect JSON (HTTP/1.1,
 * so curl works), and the resources as Kubernetes-style REST under /apis/ate.dev/v1alpha1/.
 */
export async function startApiServer(o: ApiServerOptions): Promise<RunningApiServer> {
  const handler = connectNodeAdapter({
    routes: (router) => router.service(Control, controlService(o.controlPlane)),
    fallback: (req, res) => {
      const path = req.url ?? "/";
      if (path.startsWith(apiPrefix)) return void handleResources(o.resources, req, res);
      const url = new URL(path, "http://api");
      const logs = url.pathname.match(logsPath);
      if (logs) return void handleLogs(o.controlPlane, logs, url.searchParams, req, res);
      if (path === "/healthz") {
        res.writeHead(200, { "content-type": "text/plain" });
        return void res.end("ok\n");
      }
      if (path === "/version") {
        res.writeHead(200, { "content-type": "application/json" });
        return void res.end(`${JSON.stringify({ version: ateVersion })}\n`);
      }
      sendError(
        res,
        new AteError(
          Code.NotFound,
          `no route for ${path}: the API is /ateapi.Control/<Method>, ${apiPrefix}... and /ate/v1/atespaces/<atespace>/actors/<id>/logs`,
        ),
      );
    },
  });
  const { server, sockets } = dualProtocolServer(withContractStatuses(handler));
  const host = o.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 7443, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  o.logger.info("api listening", { url });
  return {
    url,
    // Stops accepting, then ends every connection (idle keep-alives and HTTP/2 sessions
    // would otherwise hold the server open indefinitely).
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
