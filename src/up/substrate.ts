import { hostname } from "node:os";
import type { ControlPlane } from "../controlplane/index.ts";
import type { Logger } from "../log/index.ts";
import { Registry } from "../metrics/index.ts";
import type { NodeAgent } from "../node/index.ts";
import { NodeRegistryClient } from "../node/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import { inProcessControlTransport, inProcessRouterPrincipal } from "../router/index.ts";
import type { EgressOptions, NetworkOptions } from "../sandbox/gvisor/index.ts";
import { type RunningControlPlane, startControlPlane } from "./controlplane-component.ts";
import { assetDirsFor, type DefaultRuntimeResult } from "./default-runtime.ts";
import { inProcessDial, inProcessNodePrincipal, inProcessRegistryTransport } from "./in-process.ts";
import { ensureListenable, parseAddr } from "./listen.ts";
import type { NetworkChoice } from "./network-claim.ts";
import { inProcessNodeUrl, type RunningNode, startNode } from "./node-component.ts";
import { findExecutable } from "./prerequisites.ts";
import { type RunningRouter, startRouter } from "./router-component.ts";
import { type SuspendAllResult, suspendNodeActors } from "./shutdown.ts";
import { lockStateDir } from "./state-lock.ts";

export interface SubstrateOptions {
  /** Everything on disk: resources, records, node state, local snapshots. */
  stateDir: string;
  /** host:port of the API. Default 127.0.0.1:7443. */
  apiAddr?: string;
  /** host:port of the router (HTTP to actors by name). Default 127.0.0.1:7480. */
  routerAddr?: string;
  /** Idle time before an actor is suspended, unless its template says otherwise; 0 = never. Default 5 min. */
  idleTimeoutMs?: number;
  /**
   * Records backend URL; default SQLite in the state dir. `redis://…` (Valkey): records,
   * resources and the controllers' lease there.
   */
  records?: string;
  /** This node's name in Worker records. Default the host name. */
  nodeName?: string;
  /**
   * Most workers this node runs, all pools together (also bounded by its network range); a
   * pool that would exceed it is refused in its status. Default 1 per 256 MiB of memory.
   */
  maxWorkers?: number;
  /** Allow DebugClear. */
  debug?: boolean;
  /**
   * The `ate` CLI's config file to point at this API with the admin token (`server:`,
   * `token:`); `ate up` passes the CLI's. Absent: none is written.
   */
  clientConfig?: string;
  /**
   * Worker network names and addresses, distinct for each substrate on one machine: what is
   * set here must be free (else refused naming the flag); what is not is chosen (see
   * claimNetwork) and kept for this state dir.
   */
  network?: NetworkOptions;
  /** Where the substrates of this machine record their networks. Default /run/ate/networks. */
  networkClaims?: string;
  /** How often controllers and the reconciler run besides reacting to changes. Default 10 s. */
  resyncMs?: number;
  /**
   * The runsc that becomes the gvisor class's default SandboxConfig when no gvisor runtime is
   * declared (default: runsc on PATH); false to declare none.
   */
  runsc?: string | false;
  /** More directories file:// assets may be read from (the machine's runsc's always may). */
  assetDirs?: string[];
  /** http(s) asset hosts allowed even at loopback, link-local, node or worker addresses. */
  assetAllowHosts?: string[];
  /** Actors' DNS servers and extra allowed/denied ranges (`--dns`, `--egress-allow/deny`). */
  egress?: EgressOptions;
  logger: Logger;
}

export interface StopOptions {
  /** Aborting skips the actors not yet suspended: they stay on their workers for the next start. */
  signal?: AbortSignal;
  /** Called as each running actor is suspended. */
  onSuspended?: (actor: string) => void;
}

export interface RunningSubstrate {
  apiUrl: string;
  /** The local admin credential (`<state-dir>/admin.token`), and whether the CLI config got it. */
  credential: RunningControlPlane["credential"];
  routerUrl: string;
  controlPlane: ControlPlane;
  agent: NodeAgent;
  resources: ResourceStore;
  /** The gvisor runtime declared from this machine's runsc, if one was. */
  runtime?: DefaultRuntimeResult;
  /** Actors that were RUNNING here when the last instance stopped without suspending them. */
  recovered: number;
  /** The worker network this substrate uses (names `<prefix>-w<n>`, 169.254.<subnetBase>.0 up). */
  network: NetworkChoice;
  /**
   * Stops serving, suspends the actors running here, wipes the free workers and closes the
   * stores. Actors that could not be suspended keep their workers and come back on the next start.
   */
  stop(o?: StopOptions): Promise<SuspendAllResult>;
}

/**
 * Every component of ate in one process, on this machine (the composition `ate up` runs): the
 * control plane, one node and a router, the same components `ate controlplane`, `ate node` and
 * `ate router` run, joined through in-process transports of the same RPCs. The node registers
 * through the NodeRegistry service as a node principal, the control plane calls it through the
 * Node service with its call secret, and the router uses the Control service as a router.
 * Resolves once all of it serves: the node registered, the first controllers' pass done (what
 * a crashed run left mid-transition settled), then the API and the router listening.
 */
export async function startSubstrate(o: SubstrateOptions): Promise<RunningSubstrate> {
  const unlock = lockStateDir(o.stateDir);
  try {
    return await start(o, unlock);
  } catch (err) {
    unlock();
    throw err;
  }
}

async function start(o: SubstrateOptions, unlock: () => void): Promise<RunningSubstrate> {
  const log = o.logger;
  // Each start-up step's time in the debug log (`up.*`), to show where start-up goes.
  const step = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await f();
    } finally {
      log.debug(name, { ms: Math.round(performance.now() - t) });
    }
  };
  // The host name as a node name must be (a DNS subdomain): e.g. My_Host → my-host.
  const name =
    o.nodeName ??
    hostname()
      .toLowerCase()
      .replace(/[^a-z0-9.-]+/g, "-")
      .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "");
  const apiAddr = parseAddr(o.apiAddr ?? "127.0.0.1:7443", "--api-addr");
  const routerAddr = parseAddr(o.routerAddr ?? "127.0.0.1:7480", "--router-addr");
  const runsc = o.runsc === false ? undefined : (o.runsc ?? findExecutable("runsc"));
  // The machine's runsc's directory always (snapshots of earlier versions pin file:// there).
  const assetDirs = assetDirsFor(
    o.assetDirs ?? [],
    typeof o.runsc === "string" ? o.runsc : findExecutable("runsc"),
  );
  // Both checked before any worker is touched. Port 0 (tests): one free now, so the default
  // runtime's url can name it.
  apiAddr.port = await step("up.listenable", async () => {
    const port = await ensureListenable(apiAddr, "--api-addr");
    await ensureListenable(routerAddr, "--router-addr");
    return port;
  });

  let node: RunningNode | undefined;
  let registered: () => void = () => {};
  const nodeReady = new Promise<void>((resolve) => {
    registered = resolve;
  });
  // A registry per component: the API's /metrics (behind a token) shows all three; the node's
  // and the router's open ports only their own (the control plane's counts per pool are not
  // for whoever reaches the router).
  const metrics = { controlPlane: new Registry(), node: new Registry(), router: new Registry() };
  const cp = await step("up.controlplane", () =>
    startControlPlane({
      stateDir: o.stateDir,
      apiAddr: `${apiAddr.host.includes(":") ? `[${apiAddr.host}]` : apiAddr.host}:${apiAddr.port}`,
      runsc: runsc ?? false,
      dial: inProcessDial(() => node),
      inProcessNodeUrl,
      // This node registers first: the reconciler then finds the actors it still runs.
      controllersAfter: nodeReady,
      // Nothing is served before the transitions a former run left are settled (see below).
      deferApi: true,
      ...(o.records ? { records: o.records } : {}),
      ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
      ...(o.debug ? { debug: true } : {}),
      ...(o.clientConfig ? { clientConfig: o.clientConfig } : {}),
      ...(o.resyncMs !== undefined ? { resyncMs: o.resyncMs } : {}),
      metricsRegistry: metrics.controlPlane,
      apiMetricsRegistries: [metrics.node, metrics.router],
      logger: log,
    }),
  );
  let router: RunningRouter | undefined;
  try {
    node = await step("up.node", () =>
      startNode({
        stateDir: o.stateDir,
        name,
        registry: new NodeRegistryClient(
          inProcessRegistryTransport(cp.registry, inProcessNodePrincipal(name)),
        ),
        assetDirs,
        // This node has the runtime at hand: cached by digest, it is never fetched.
        ...(cp.runtime ? { seedAsset: cp.runtime.asset } : {}),
        onWorkerExit: () => cp.wake(),
        ...(o.maxWorkers !== undefined ? { maxWorkers: o.maxWorkers } : {}),
        ...(o.network ? { network: o.network } : {}),
        ...(o.networkClaims ? { networkClaims: o.networkClaims } : {}),
        // Actors reach this API for themselves (their /run/ate/token) through their gateways.
        egress: { ...o.egress, controlApi: { ...o.egress?.controlApi, url: cp.apiUrl } },
        ...(o.assetAllowHosts?.length ? { assetAllowHosts: o.assetAllowHosts } : {}),
        metricsRegistry: metrics.node,
        logger: log,
      }),
    );
    const started = node;
    await step("up.node-ready", () => started.ready);
    registered();
    // A crash (kill -9) may have left actors mid-transition: no call or request may meet one
    // ("another operation in progress"), so the API and the router wait for the first pass.
    await step("up.settled", () => cp.settled);
    await step("up.api", () => cp.serveApi());
    // The router runs the Control API's RPCs in process, as `ate router` does over HTTP.
    router = await step("up.router", () =>
      startRouter({
        routerAddr: `${routerAddr.host.includes(":") ? `[${routerAddr.host}]` : routerAddr.host}:${routerAddr.port}`,
        control: {
          transport: inProcessControlTransport(cp.controlPlane, inProcessRouterPrincipal()),
          templates: cp.resources,
        },
        metricsRegistry: metrics.router,
        logger: log,
      }),
    );
  } catch (err) {
    // Taken since the check, or the node failed: stop what started; workers stay for the next start.
    await router?.stop();
    await node?.stop();
    await cp.stop();
    throw err;
  }
  const n = node;
  const r = router;
  return {
    apiUrl: cp.apiUrl,
    credential: cp.credential,
    routerUrl: r.url,
    controlPlane: cp.controlPlane,
    agent: n.agent,
    resources: cp.resources,
    ...(cp.runtime ? { runtime: cp.runtime } : {}),
    recovered: n.recovered,
    network: n.network,
    async stop(s: StopOptions = {}) {
      log.info("stopping: suspending running actors, then removing the workers");
      try {
        // Stop accepting: no new request or call may resume an actor from here on.
        await r.stop();
        await cp.closeApi();
        // Every controller stopped and awaited (boots under way aborted and rolled back), so
        // none works on after the stores close.
        await cp.stopControllers();
        const result = await suspendNodeActors(cp.controlPlane, name, {
          logger: log,
          ...(s.signal ? { signal: s.signal } : {}),
          ...(s.onSuspended ? { onProgress: s.onSuspended } : {}),
        });
        await cp.controlPlane.close();
        await cp
          .wipeNode(name)
          .catch((err) => log.warn("wiping workers failed", { error: String(err) }));
        log.info("stopped", {
          suspended: result.suspended.length,
          stopped: result.stopped.length,
          left: result.left,
        });
        return result;
      } finally {
        // Heartbeats end last: while its actors are suspended the node must not be lost.
        await n.stop();
        await cp.stop();
        unlock();
      }
    },
  };
}
