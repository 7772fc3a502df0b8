import { setTimeout as sleep } from "node:timers/promises";
import type { Transport } from "@connectrpc/connect";
import type { Logger } from "../log/index.ts";
import type { Registry } from "../metrics/index.ts";
import { RemoteResourceStore, type ResourceStore } from "../resources/index.ts";
import { controlHttpTransport, RemoteBackend, Router } from "../router/index.ts";
import { ensureListenable, listen, parseAddr } from "./listen.ts";

/** The Control API over HTTP as a router token holder (`ate router`). */
export interface RouterOverHttp {
  /** The control plane's API, e.g. http://10.0.0.2:7443. */
  server: string;
  /**
   * A router token: the Control API's router calls and ActorTemplates. It never leaves for a
   * node: entry points take their node's own token, which the Control API gives routers.
   */
  token: string;
}

/** The Control API in this process (`ate up`). */
export interface RouterInProcess {
  transport: Transport;
  templates: Pick<ResourceStore, "get">;
}

export interface RouterComponentOptions {
  /** host:port the router listens on. Default 127.0.0.1:7480; port 0 picks a free one. */
  routerAddr?: string;
  control: RouterOverHttp | RouterInProcess;
  /**
   * Where the component registers its Prometheus metrics, served on its port. Default: a
   * registry of its own (`ate up`'s API shows it too).
   */
  metricsRegistry?: Registry;
  logger: Logger;
}

export interface RunningRouter {
  url: string;
  router: Router;
  /** Stops listening (open connections closed; bounded), then the router's watch and reports. */
  stop(): Promise<void>;
}

/**
 * A router: HTTP to actors by name, its routes from the Control API's actor watch, resuming
 * through it and reporting activity to it; over HTTP with a router token, or in process.
 */
export async function startRouter(o: RouterComponentOptions): Promise<RunningRouter> {
  const log = o.logger;
  const addr = parseAddr(o.routerAddr ?? "127.0.0.1:7480", "--router-addr");
  await ensureListenable(addr, "--router-addr");
  const c = o.control;
  const backend =
    "server" in c
      ? new RemoteBackend({
          transport: controlHttpTransport(c.server, c.token),
          templates: new RemoteResourceStore(c.server, { token: c.token }),
          logger: log,
        })
      : new RemoteBackend({ transport: c.transport, templates: c.templates, logger: log });
  const router = new Router({
    backend,
    logger: log,
    ...(o.metricsRegistry ? { metricsRegistry: o.metricsRegistry } : {}),
  });
  const server = await listen(addr, router.handle, router.handleUpgrade);
  router.start();
  log.info("router listening", { url: server.url });
  let stopping: Promise<void> | undefined;
  return {
    url: server.url,
    router,
    stop() {
      stopping ??= (async () => {
        // A server that hangs does not hold the shutdown long.
        await Promise.race([server.close(), sleep(5000, undefined, { ref: false })]);
        await router.stop();
      })();
      return stopping;
    },
  };
}
