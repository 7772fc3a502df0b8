import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { ActorTemplateType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import {
  type AdminCredential,
  ensureAdminCredential,
  TokenStore,
  writeAdminClientConfig,
} from "../auth/index.ts";
import { systemClock } from "../clock/index.ts";
import { defaultMaxWorkers, GoldenController, PoolController } from "../controller/index.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import { NodeAgent } from "../node/index.ts";
import { privateDirSync } from "../private-files/index.ts";
import { openRecordStore, Records } from "../records/index.ts";
import { openResourceStore, type ResourceStore } from "../resources/index.ts";
import { EmbeddedBackend, Router } from "../router/index.ts";
import type { EgressOptions, NetworkOptions } from "../sandbox/gvisor/index.ts";
import { GvisorDriver } from "../sandbox/index.ts";
import { type RunningApiServer, startApiServer } from "../server/index.ts";
import {
  assetDirsFor,
  type DefaultRuntimeResult,
  ensureDefaultRuntime,
} from "./default-runtime.ts";
import { ensureListenable, listen, parseAddr } from "./listen.ts";
import { claimNetwork, type NetworkChoice } from "./network-claim.ts";
import { findExecutable } from "./prerequisites.ts";
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
  /** Records backend URL; default SQLite in the state dir (`redis://…` for Redis/Valkey). */
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
  credential: AdminCredential & { clientConfig?: { path: string; problem?: string } };
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

/** Every component of ate in one process, on this machine (the composition `ate up` runs). */
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
  const node = o.nodeName ?? hostname();
  const apiAddr = parseAddr(o.apiAddr ?? "127.0.0.1:7443", "--api-addr");
  const routerAddr = parseAddr(o.routerAddr ?? "127.0.0.1:7480", "--router-addr");
  const assetDirs = assetDirsFor(
    o.assetDirs ?? [],
    typeof o.runsc === "string" ? o.runsc : findExecutable("runsc"),
  );
  // Before any worker is touched: a second substrate must not get as far as recovering them.
  await ensureListenable(apiAddr, "--api-addr");
  await ensureListenable(routerAddr, "--router-addr");
  // The worker names and addresses no other substrate on this machine uses.
  const network = await claimNetwork({
    stateDir: o.stateDir,
    ...(o.network ? { requested: o.network } : {}),
    ...(o.networkClaims ? { claimsDir: o.networkClaims } : {}),
  });
  log.info("worker network", {
    prefix: network.prefix,
    addresses: `169.254.${network.subnetBase}.0-169.254.${network.subnetBase + network.subnets - 1}.255`,
  });
  privateDirSync(o.stateDir); // root only (0700), also when an older version made it 0755
  const resources = openResourceStore({ home: o.stateDir });
  const records = new Records(openRecordStore(o.records, o.stateDir));
  const runsc = o.runsc === false ? undefined : (o.runsc ?? findExecutable("runsc"));
  const runtime = runsc ? await ensureDefaultRuntime(resources, runsc, log) : undefined;
  await records.createAtespace("default").catch((err) => {
    if (!isAteError(err, Code.AlreadyExists)) throw err;
  });
  const nodeDir = join(o.stateDir, "node");
  /** Set when controllers should run now rather than at the next resync. */
  let dirty = true;
  const gvisor = new GvisorDriver({
    stateDir: nodeDir,
    network,
    ...(o.egress ? { egress: o.egress } : {}),
  });
  const agent = new NodeAgent({
    stateDir: nodeDir,
    drivers: [gvisor],
    assetDirs,
    ...(o.assetAllowHosts?.length ? { assetAllowHosts: o.assetAllowHosts } : {}),
    // A sandbox that stopped on its own (e.g. past its memory limit): the next controller pass
    // (within 100 ms) sends its actor back to its last snapshot and frees the worker.
    onWorkerExit: () => {
      dirty = true;
    },
    logger: log,
  });
  const recovered = await agent.recover();
  log.info("node agent ready", { node, workers: recovered.length });
  const controlPlane = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ [node]: agent }),
    logger: log,
    // Where suspends go for actors of older versions whose template was deleted since.
    fallbackSnapshotLocation: pathToFileURL(join(o.stateDir, "snapshots")).href,
    ...(o.debug ? { debug: true } : {}),
  });
  const router = new Router({
    backend: new EmbeddedBackend(controlPlane, resources),
    logger: log,
    ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
  });
  const maxWorkers = o.maxWorkers ?? defaultMaxWorkers();
  const pools = new PoolController({
    resources,
    records,
    node: {
      name: node,
      agent,
      capacity:
        gvisor.networks.capacity < maxWorkers
          ? {
              workers: gvisor.networks.capacity,
              source: `its network range, 169.254.${network.subnetBase}.0 to 169.254.${network.subnetBase + network.subnets - 1}.255`,
            }
          : {
              workers: maxWorkers,
              source: `--max-workers ${maxWorkers}${o.maxWorkers === undefined ? ", by default 1 per 256 MiB of memory" : ""}`,
            },
    },
    // A deleted pool's running actors are suspended before its workers go.
    actors: controlPlane,
    logger: log,
  });
  const golden = new GoldenController({
    resources,
    controlPlane,
    clock: systemClock,
    logger: log,
    // A full pool makes room for a golden snapshot by suspending an idle actor.
    evictor: router,
  });

  const ac = new AbortController();
  const pass = async () => {
    dirty = false;
    await pools
      .reconcile()
      .catch((err) => log.warn("pool reconcile failed", { error: String(err) }));
    await controlPlane
      .reconcile(false, ac.signal)
      .catch((err) => log.warn("actor reconcile failed", { error: String(err) }));
    // Golden boots take long: they run on their own, and stop() waits for them.
    if (!ac.signal.aborted)
      void golden
        .reconcile()
        .catch((err) => log.warn("golden reconcile failed", { error: String(err) }));
  };
  // A previous instance's transitions are stale now: finish or roll them back before serving.
  await pools.reconcile().catch((err) => log.warn("pool reconcile failed", { error: String(err) }));
  await controlPlane.reconcile(true);
  const watchKind = async (type: typeof WorkerPoolType | typeof ActorTemplateType) => {
    while (!ac.signal.aborted) {
      try {
        for await (const _ of resources.watch({ type, signal: ac.signal })) dirty = true;
      } catch (err) {
        if (!ac.signal.aborted)
          log.warn("watch failed; retrying", { kind: type.kind, error: String(err) });
        await sleep(1000, undefined, { signal: ac.signal }).catch(() => {});
      }
    }
  };
  const watches = [watchKind(WorkerPoolType), watchKind(ActorTemplateType)];
  const loop = (async () => {
    let last = 0;
    while (!ac.signal.aborted) {
      if (dirty || Date.now() - last > (o.resyncMs ?? 10_000)) {
        last = Date.now();
        await pass();
      }
      await sleep(100, undefined, { signal: ac.signal }).catch(() => {});
    }
  })();

  let server: RunningApiServer | undefined;
  let credential: AdminCredential;
  let routerServer: Awaited<ReturnType<typeof listen>>;
  try {
    // The admin token exists before the API answers: whoever sees it up finds the file.
    const tokens = new TokenStore(records.store);
    credential = await ensureAdminCredential({ stateDir: o.stateDir, tokens, logger: log });
    server = await startApiServer({
      ...apiAddr,
      controlPlane,
      resources,
      tokens,
      logger: log,
      ...(o.debug ? { debug: true } : {}),
    });
    routerServer = await listen(routerAddr, router.handle, router.handleUpgrade);
  } catch (err) {
    // Taken since the check: stop what started; the workers stay for the next start.
    ac.abort();
    await Promise.all([loop, ...watches]);
    await golden.stop();
    await controlPlane.close();
    await server?.close();
    await resources.close();
    await records.store.close();
    throw err;
  }
  const api = server;
  const written = o.clientConfig
    ? writeAdminClientConfig(o.clientConfig, api.url, credential)
    : undefined;
  if (written && !written.written)
    log.warn("could not write the CLI config", { problem: written.problem });
  router.start();
  log.info("router listening", { url: routerServer.url });
  return {
    apiUrl: api.url,
    credential: {
      ...credential,
      ...(o.clientConfig && written
        ? {
            clientConfig: {
              path: o.clientConfig,
              ...(written.written ? {} : { problem: written.problem }),
            },
          }
        : {}),
    },
    routerUrl: routerServer.url,
    controlPlane,
    agent,
    resources,
    ...(runtime ? { runtime } : {}),
    recovered: recovered.filter((w) => w.actor).length,
    network,
    async stop(s: StopOptions = {}) {
      log.info("stopping: suspending running actors, then removing the workers");
      try {
        // Stop accepting: no new request or call may resume an actor from here on. Open
        // connections are closed; a server that hangs does not hold the shutdown long.
        const bounded = (p: Promise<unknown>) => Promise.race([p, sleep(5000)]);
        await bounded(routerServer.close());
        await bounded(api.close());
        router.stop();
        // Every controller stopped and awaited (boots under way aborted and rolled back), so
        // none works on after the stores close.
        ac.abort();
        await Promise.all([loop, ...watches]);
        await Promise.all([golden.stop(), controlPlane.stopResumes()]);
        const result = await suspendNodeActors(controlPlane, node, {
          logger: log,
          ...(s.signal ? { signal: s.signal } : {}),
          ...(s.onSuspended ? { onProgress: s.onSuspended } : {}),
        });
        await controlPlane.close();
        await pools
          .wipe()
          .catch((err) => log.warn("wiping workers failed", { error: String(err) }));
        log.info("stopped", {
          suspended: result.suspended.length,
          stopped: result.stopped.length,
          left: result.left,
        });
        return result;
      } finally {
        await resources.close().catch(() => {});
        await records.store.close().catch(() => {});
        unlock();
      }
    },
  };
}
