import type { AddressInfo } from "node:net";
import { createContextValues, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  adminService,
  authorizeAdmin,
  authorizeApiDiscovery,
  authorizeControlCall,
  authorizeMachineCall,
  authorizeNodeRegistry,
  nodeRegistryService as nodeRegistryServiceName,
  type Principal,
  principalKey,
  registrationName,
  type TokenStore,
} from "../auth/index.ts";
import { type ControlPlane, controlService } from "../controlplane/index.ts";
import { toConnectError } from "../errors/connect.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { dualProtocolServer, type Handler } from "../http/index.ts";
import type { Logger } from "../log/index.ts";
import type { Registry } from "../metrics/index.ts";
import { type NodeRegistryApi, nodeRegistryService } from "../node/index.ts";
import { Admin } from "../proto/gen/ateapi/admin_pb.ts";
import { Control } from "../proto/gen/ateapi/control_pb.ts";
import { NodeRegistry } from "../proto/gen/ateapi/node_pb.ts";
import type { ResourceStore } from "../resources/index.ts";
import { traceIncoming } from "../tracing/index.ts";
import { handleUiEvents, isUiStaticPath, serveUiStatic, uiEventsPath } from "../ui/index.ts";
import { handleAsset, isAssetsPath } from "./asset-route.ts";
import { bearerFromBasic } from "./basic-token.ts";
import { withContractStatuses } from "./contract-status.ts";
import { versionInfo } from "./discovery.ts";
import { isKubeDocumentPath, serveKubeDocument } from "./kube-routes.ts";
import { handleLogs, logsPath } from "./logs-route.ts";
import { handleMetrics, metricsPath } from "./metrics-route.ts";
import { handleRbac, isRbacPath } from "./rbac-routes.ts";
import { maxBodyBytes } from "./request-body.ts";
import {
  apiPrefix,
  coreApiPrefix,
  handleResources,
  isResourcePath,
  type RequestAccess,
  sendError,
} from "./resource-routes.ts";
import type { ServedAssets } from "./served-assets.ts";

export interface ApiServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 7443; 0 picks a free port. */
  port?: number;
  controlPlane: ControlPlane;
  resources: ResourceStore;
  /** Every request but /healthz and /version needs a bearer token from here. */
  tokens: TokenStore;
  /** Lets API clients write status (and DebugClear, which the control plane decides). Default false. */
  debug?: boolean;
  /** How often an open stream (watch, logs -f) checks that its token is still valid. Default 10 s. */
  tokenRecheckMs?: number;
  /** The runtime assets this control plane declared, served at /assets/sha256/<hex>. Default none. */
  assets?: ServedAssets;
  /** Node membership (ateapi.NodeRegistry, for node tokens). Default: not served. */
  nodeRegistry?: NodeRegistryApi;
  /**
   * What /metrics serves (see metrics-route.ts for who may read it). Default the control
   * plane's registry; `ate up` passes the one all its components share.
   */
  metricsRegistries?: Registry[];
  logger: Logger;
}

export interface RunningApiServer {
  /** e.g. http://127.0.0.1:7443 */
  url: string;
  close(): Promise<void>;
}

/** Paths anyone may ask (health checks, version probes). */
const openPaths = new Set(["/healthz", "/version"]);

/**
 * The ate API on one port: the Control and Admin services as gRPC (HTTP/2) and Connect JSON
 * (HTTP/1.1, so curl works), the resources as Kubernetes-style REST under /apis/ate.dev/v1alpha1/
 * and actors' logs. Every request is authenticated once, at the edge (bearer token → principal);
 * what the principal may do is decided by src/auth's policies, here, before any handler runs.
 */
export async function startApiServer(o: ApiServerOptions): Promise<RunningApiServer> {
  const debug = o.debug ?? false;
  // The edge's verdict for each request: who it is, or why it is nobody.
  const principals = new WeakMap<object, Principal | AteError>();
  const handler = connectNodeAdapter({
    routes: (router) => {
      router.service(Control, controlService(o.controlPlane));
      router.service(
        Admin,
        adminService(o.tokens, (gc) => o.controlPlane.collectGarbage(gc)),
      );
      if (o.nodeRegistry) router.service(NodeRegistry, nodeRegistryService(o.nodeRegistry));
    },
    // Spans only for authorized calls: a stranger's traceparent makes none.
    interceptors: [authorization(), traceIncoming("controlplane")],
    // After decompression too: a small gzip body that inflates past this is refused unread.
    readMaxBytes: maxBodyBytes,
    contextValues: (req) => createContextValues().set(principalKey, principals.get(req)),
    fallback: (req, res) => {
      const url = new URL(req.url ?? "/", "http://api");
      if (url.pathname === "/healthz") {
        res.writeHead(200, { "content-type": "text/plain" });
        return void res.end("ok\n");
      }
      if (url.pathname === "/version") {
        res.writeHead(200, { "content-type": "application/json" });
        return void res.end(`${JSON.stringify(versionInfo())}\n`);
      }
      // The dashboard's page is static and holds no data: its data needs a token (below).
      if (isUiStaticPath(url.pathname))
        return void serveUiStatic(url.pathname, req.method, res).catch((err) =>
          sendError(res, err, req),
        );
      const who = principals.get(req);
      if (!who || who instanceof AteError)
        return sendError(res, who ?? new AteError(Code.Unauthenticated, "no credentials"), req);
      if (url.pathname === metricsPath)
        return handleMetrics(
          o.metricsRegistries ?? [o.controlPlane.metrics.registry],
          who,
          req,
          res,
        );
      // Discovery and OpenAPI, for kubectl: any caller with a valid token but an actor's.
      if (isKubeDocumentPath(url.pathname)) {
        try {
          authorizeApiDiscovery(who);
        } catch (err) {
          return sendError(res, err, req);
        }
        return serveKubeDocument(url.pathname, req, res);
      }
      const access: RequestAccess = {
        principal: who,
        debug,
        // Only REST and logs stream for long; Connect calls need no re-checks.
        revoked: watchRevocation(authorizationHeader(req.rawHeaders) as string, res),
      };
      if (isResourcePath(url.pathname)) return void handleResources(o.resources, access, req, res);
      if (isRbacPath(url.pathname)) return void handleRbac(access, req, res);
      // Matched as sent, before URL parsing resolves dot segments.
      const rawPath = (req.url ?? "/").split("?")[0] as string;
      if (isAssetsPath(rawPath)) return void handleAsset(o.assets, access, rawPath, req, res);
      if (url.pathname === uiEventsPath)
        return void handleUiEvents(o.controlPlane, who, access.revoked, req.method, res).catch(
          (err) => (res.headersSent ? res.destroy() : sendError(res, err, req)),
        );
      const logs = url.pathname.match(logsPath);
      if (logs) return void handleLogs(o.controlPlane, access, logs, url.searchParams, req, res);
      sendError(
        res,
        new AteError(
          Code.NotFound,
          `no route for ${url.pathname}: the API is /ateapi.Control/<Method>, /ateapi.Admin/<Method>, ${apiPrefix}..., ${coreApiPrefix}..., /ate/v1/atespaces/<atespace>/actors/<id>/logs, /assets/sha256/<hex> and the dashboard at /ui`,
        ),
      );
    },
  });
  const recheckMs = o.tokenRecheckMs ?? 10_000;
  const edge: Handler = (req, res) => {
    const path = (req.url ?? "/").split("?")[0] as string;
    if (openPaths.has(path) || isUiStaticPath(path)) return handler(req, res);
    const header = authorizationHeader(req.rawHeaders);
    const authenticated =
      header === severalHeaders
        ? Promise.reject(
            new AteError(
              Code.Unauthenticated,
              'the request has several authorization headers: send one, "authorization: Bearer <token>"',
            ),
          )
        : o.tokens.authenticate(bearerFromBasic(header));
    authenticated.then(
      (who) => {
        principals.set(req, who);
        handler(req, res);
      },
      (err) => {
        // A store that cannot answer is not the caller's fault: UNAVAILABLE, not 401.
        if (isAteError(err)) principals.set(req, err);
        else
          principals.set(
            req,
            new AteError(Code.Unavailable, `cannot check the token now: ${String(err)}; retry`),
          );
        if (!isAteError(err, Code.Unauthenticated))
          o.logger.warn("authenticating a request failed", { error: String(err) });
        handler(req, res);
      },
    );
  };
  // While a response is open, its token is checked again now and then: a revoked or expired
  // token ends a watch or a followed log too.
  const watchRevocation = (
    header: string | undefined,
    res: { on(e: "close", f: () => void): unknown },
  ) => {
    const ac = new AbortController();
    const timer = setInterval(() => {
      o.tokens.authenticate(bearerFromBasic(header)).catch((err) => {
        if (isAteError(err, Code.Unauthenticated)) ac.abort(err);
      });
    }, recheckMs);
    res.on("close", () => clearInterval(timer)); // the server's close ends every response
    return ac.signal;
  };
  const { server, sockets } = dualProtocolServer(withContractStatuses(edge));
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

const severalHeaders = Symbol("several authorization headers");

/**
 * The request's one `authorization` header. Node keeps only the first of several, where a
 * proxy in front may have judged by another: several are refused, not resolved by either rule.
 */
function authorizationHeader(raw: readonly string[]): string | undefined | typeof severalHeaders {
  let found: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() !== "authorization") continue;
    if (found !== undefined) return severalHeaders;
    found = raw[i + 1] as string;
  }
  return found;
}

/**
 * Control and Admin calls: refused unless the edge found a principal, then as src/auth's
 * policies decide (a tenant's listings narrowed to its atespace).
 */
function authorization(): Interceptor {
  return (next) => async (req) => {
    const who = req.contextValues.get(principalKey);
    if (!who || who instanceof AteError)
      throw toConnectError(who ?? new AteError(Code.Unauthenticated, "no credentials"));
    try {
      // Node and router tokens: only their role's few calls, whatever the service.
      authorizeMachineCall(who, req.service.typeName, req.method.name);
      if (req.service.typeName === Admin.typeName) {
        authorizeAdmin(who, req.method.name);
        return await next(req);
      }
      if (req.service.typeName === nodeRegistryServiceName) {
        authorizeNodeRegistry(who, req.method.name, registrationName(req));
        return await next(req);
      }
      return await authorizeControlCall(who, req, next);
    } catch (err) {
      throw toConnectError(err);
    }
  };
}
