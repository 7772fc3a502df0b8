import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ActorTemplateType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { systemClock } from "../clock/index.ts";
import { GoldenController, PoolController } from "../controller/index.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import { NodeAgent } from "../node/index.ts";
import { openRecordStore, Records } from "../records/index.ts";
import { openResourceStore, type ResourceStore } from "../resources/index.ts";
import { EmbeddedBackend, Router } from "../router/index.ts";
import type { NetworkOptions } from "../sandbox/gvisor/index.ts";
import { GvisorDriver } from "../sandbox/index.ts";
import { type RunningApiServer, startApiServer } from "../server/index.ts";
import { type DefaultRuntimeResult, ensureDefaultRuntime } from "./default-runtime.ts";
import { ensureListenable, listen, parseAddr } from "./listen.ts";
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
  /** Allow DebugClear. */
  debug?: boolean;
  /** Worker network names and addresses; distinct for each substrate on one machine. */
  network?: NetworkOptions;
  /** How often controllers and the reconciler run besides reacting to changes. Default 10 s. */
  resyncMs?: number;
  /**
   * The runsc that becomes the gvisor class's default SandboxConfig when no gvisor runtime is
   * declared (default: runsc on PATH); false to declare none.
   */
  runsc?: string | false;
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
  routerUrl: string;
  controlPlane: ControlPlane;
  agent: NodeAgent;
  resources: ResourceStore;
  /** The gvisor runtime declared from this machine's runsc, if one was. */
  runtime?: DefaultRuntimeResult;
  /** Actors that were RUNNING here when the last instance stopped without suspending them. */
  recovered: number;
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
  // Before any worker is touched: a second substrate must not get as far as recovering them.
  await ensureListenable(apiAddr, "--api-addr");
  await ensureListenable(routerAddr, "--router-addr");
  const resources = openResourceStore({ home: o.stateDir });
  const records = new Records(openRecordStore(o.records, o.stateDir));
  const runsc = o.runsc === false ? undefined : (o.runsc ?? findExecutable("runsc"));
  const runtime = runsc ? await ensureDefaultRuntime(resources, runsc, log) : undefined;
  await records.createAtespace("default").catch((err) => {
    if (!isAteError(err, Code.AlreadyExists)) throw err;
  });
  const nodeDir = join(o.stateDir, "node");
  const agent = new NodeAgent({
    stateDir: nodeDir,
    drivers: [
      new GvisorDriver({ stateDir: nodeDir, ...(o.network ? { network: o.network } : {}) }),
    ],
    logger: log,
  });
  const recovered = await agent.recover();
  log.info("node agent ready", { node, workers: recovered.length });
  const controlPlane = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ [node]: agent }),
    logger: log,
    ...(o.debug ? { debug: true } : {}),
  });
  const pools = new PoolController({
    resources,
    records,
    node: { name: node, agent },
    logger: log,
  });
  const golden = new GoldenController({ resources, controlPlane, clock: systemClock, logger: log });

  const ac = new AbortController();
  let dirty = true;
  const pass = async () => {
    dirty = false;
    await pools
      .reconcile()
      .catch((err) => log.warn("pool reconcile failed", { error: String(err) }));
    await controlPlane
      .reconcile()
      .catch((err) => log.warn("actor reconcile failed", { error: String(err) }));
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
  void watchKind(WorkerPoolType);
  void watchKind(ActorTemplateType);
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

  const router = new Router({
    backend: new EmbeddedBackend(controlPlane, resources),
    logger: log,
    ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
  });
  let server: RunningApiServer | undefined;
  let routerServer: Awaited<ReturnType<typeof listen>>;
  try {
    server = await startApiServer({ ...apiAddr, controlPlane, resources, logger: log });
    routerServer = await listen(routerAddr, router.handle, router.handleUpgrade);
  } catch (err) {
    // Taken since the check: stop what started; the workers stay for the next start.
    ac.abort();
    await loop;
    await server?.close();
    await resources.close();
    await records.store.close();
    throw err;
  }
  const api = server;
  router.start();
  log.info("router listening", { url: routerServer.url });
  return {
    apiUrl: api.url,
    routerUrl: routerServer.url,
    controlPlane,
    agent,
    resources,
    ...(runtime ? { runtime } : {}),
    recovered: recovered.filter((w) => w.actor).length,
    async stop(s: StopOptions = {}) {
      ac.abort();
      // A reconcile pass in flight may wait on a sandbox; stopping does not wait for it long.
      const bounded = (p: Promise<unknown>) => Promise.race([p, sleep(5000)]);
      await bounded(loop);
      // No new requests or calls may resume actors while they are being suspended.
      await bounded(routerServer.close());
      await bounded(api.close());
      const result = await suspendNodeActors(controlPlane, node, {
        logger: log,
        ...(s.signal ? { signal: s.signal } : {}),
        ...(s.onSuspended ? { onProgress: s.onSuspended } : {}),
      });
      router.stop();
      await pools.wipe().catch((err) => log.warn("wiping workers failed", { error: String(err) }));
      await resources.close();
      await records.store.close();
      unlock();
      return result;
    },
  };
}
