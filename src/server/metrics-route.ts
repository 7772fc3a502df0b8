import { describePrincipal, type Principal } from "../auth/index.ts";
import { AteError, Code } from "../errors/index.ts";
import { type Registry, serveMetrics } from "../metrics/index.ts";
import type { Req, Res } from "./http-types.ts";
import { sendError } from "./resource-routes.ts";

export const metricsPath = "/metrics";

/**
 * Roles that may scrape /metrics. As in Kubernetes, where /metrics needs an identity granted
 * `get` on it, the API's metrics need a token: they name every atespace's pools and span
 * all tenants, so a tenant or actor token is refused; admin tokens may, and so may the
 * machine tokens of the deployment (node, router), which already see every actor: give
 * Prometheus one of those (`ate create token prometheus --router`) rather than an
 * admin token. The router's and node's own /metrics are on their ports, behind the network.
 */
const scrapers = new Set<Principal["role"]>(["admin", "node", "router"]);

/** GET /metrics for an authenticated caller: the registries' exposition, or 403. */
export function handleMetrics(
  registries: readonly Registry[],
  who: Principal,
  req: Req,
  res: Res,
): void {
  if (req.method !== "GET" && req.method !== "HEAD") {
    sendError(
      res,
      new AteError(
        Code.InvalidArgument,
        `method: ${req.method} is not allowed on /metrics; use GET`,
      ),
      req,
    );
    return;
  }
  if (!scrapers.has(who.role)) {
    sendError(
      res,
      new AteError(
        Code.PermissionDenied,
        `${describePrincipal(who)} may not read /metrics: it needs an admin, node or router token`,
      ),
      req,
    );
    return;
  }
  serveMetrics(registries, res);
}
