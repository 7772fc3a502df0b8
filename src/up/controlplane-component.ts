import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import {
  ActorTokens,
  type AdminCredential,
  adminTokenNameFor,
  ensureAdminCredential,
  TokenStore,
  writeAdminClientConfig,
} from "../auth/index.ts";
import { PoolController } from "../controller/index.ts";
import {
  ControlPlane,
  defaultGcIntervalMs,
  isLoopbackHost,
  NodeRegistry,
} from "../controlplane/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { Lease } from "../lease/index.ts";
import type { Logger } from "../log/index.ts";
import type { Registry } from "../metrics/index.ts";
import { type NodeAgentApi, NodeClient, nodeHttpTransport } from "../node/index.ts";
import { privateDirSync } from "../private-files/index.ts";
import { type NodeRecord, openRecordStore, Records } from "../records/index.ts";
import {
  adoptNamespacesInUse,
  ensureDefaultNamespace,
  openResourceStore,
  type ResourceStore,
} from "../resources/index.ts";
import { type RunningApiServer, ServedAssets, startApiServer } from "../server/index.ts";
import { Controllers } from "./controllers.ts";
import { type Compiled, compile, controlPlaneDefaults } from "./controlplane-options.ts";
import { type DefaultRuntimeResult, ensureDefaultRuntime, httpUrl } from "./default-runtime.ts";
import { releaseFormerRuns } from "./former-runs.ts";
import { ensureListenable } from "./listen.ts";
import { Presence } from "./presence.ts";
import { controlPlaneLock, lockStateDir } from "./state-lock.ts";

export interface ControlPlaneComponentOptions {
  /** Its state: the admin token, and with SQLite the records and resources. */
  stateDir: string;
  /** host:port the API listens on. Default 127.0.0.1:7443; port 0 picks a free one. */
  apiAddr?: string;
  /**
   * The API's URL as nodes and routers reach it (the default runtime's asset URL names it).
   * Default from apiAddr, which must then name a host (not 0.0.0.0 or ::).
   */
  advertiseUrl?: string;
  /**
   * Records store URL: absent, SQLite in the state dir (one control plane: always the leader);
   * `redis://…` (Valkey): records, resources and the leader lease there, shared with others.
   */
  records?: string;
  /** Idle time before an actor is suspended, unless its template says otherwise; 0 = never. Default 5 min. */
  idleTimeoutMs?: number;
  /** Allow DebugClear and status writes through the API. */
  debug?: boolean;
  /** The ate CLI's config file to point at this API with the admin token. Absent: none written. */
  clientConfig?: string;
  /** How often the controllers pass besides reacting to changes. Default 10 s. */
  resyncMs?: number;
  /** How often the leader collects snapshot garbage (ate gc); 0 = never. Default 10 min. */
  gcIntervalMs?: number;
  /** The runsc to declare (and serve) as the gvisor default runtime; false: none. Default none. */
  runsc?: string | false;
  /** How the control plane reaches a node's API. Default: over HTTP at its URL with its call secret. */
  dial?: (record: NodeRecord) => NodeAgentApi;
  /** The URL of a node `dial` reaches in process (`ate up`'s): accepted though never dialled. */
  inProcessNodeUrl?: string;
  /** The controllers start once this resolves (`ate up`: its node has registered). */
  controllersAfter?: Promise<unknown>;
  /**
   * Listen only when `serveApi()` is called (`ate up`: once its node has registered and
   * `settled` resolved, so no call meets a transition a crashed run left). Default false: at
   * once, as `ate controlplane` must (nodes register through the API).
   */
  deferApi?: boolean;
  /** The leader lease's term without renewal (Valkey). Default 10 s. */
  leaseTtlMs?: number;
  /** Where the component registers its Prometheus metrics. Default: a registry of its own. */
  metricsRegistry?: Registry;
  /**
   * Further registries the API's /metrics shows (`ate up`: its node's and router's), behind
   * the API's token check; their own open ports show only their own.
   */
  apiMetricsRegistries?: readonly Registry[];
  logger: Logger;
}

export { controlPlaneDefaults } from "./controlplane-options.ts";

export interface RunningControlPlane {
  /** Where the API listens. */
  apiUrl: string;
  /** Where nodes and routers reach it. */
  advertiseUrl: string;
  /** The local admin credential (`<state-dir>/admin.token`), and whether the CLI config got it. */
  credential: AdminCredential & { clientConfig?: { path: string; problem?: string } };
  controlPlane: ControlPlane;
  registry: NodeRegistry;
  records: Records;
  resources: ResourceStore;
  /** The gvisor runtime declared from `runsc`, if one was. */
  runtime?: DefaultRuntimeResult;
  /** Records and resources are shared (Valkey): leadership goes by lease. */
  shared: boolean;
  /**
   * Resolves once the transitions a former run left (crash, kill -9) are settled: this
   * process's first controllers' pass is done; or, on shared records, another control plane
   * leads (its next pass settles them: this run released the former runs' presence). Also
   * resolves when stopped.
   */
  settled: Promise<void>;
  /** Starts serving the API (with `deferApi`; otherwise it already does). */
  serveApi(): Promise<void>;
  /** Makes the controllers pass soon (when leading), e.g. after a worker's sandbox exited. */
  wake(): void;
  /** Stops serving the API (open connections closed); bounded. */
  closeApi(): Promise<void>;
  /** Stops the controllers (leadership given up, golden boots rolled back) and refuses resumes. */
  stopControllers(): Promise<void>;
  /** Removes a node's free workers (sandboxes and records), e.g. one stopping with this process. */
  wipeNode(node: string): Promise<void>;
  /** Everything above, then waits for the lifecycle calls under way and closes the stores. */
  stop(): Promise<void>;
}

/** A step of a shutdown that may hang (a stuck connection) is given this long. */
const boundMs = 5000;
async function bounded(p: Promise<unknown>): Promise<void> {
  const done = new AbortController();
  try {
    await Promise.race([p, sleep(boundMs, undefined, { signal: done.signal }).catch(() => {})]);
  } finally {
    done.abort(); // the timer goes with the step it bounded
  }
}

/**
 * A control plane: the API (Control, Admin, resources + watch, NodeRegistry, served runtime
 * assets), the lifecycle, and the controllers, which run only while this process leads (a
 * lease on Valkey; with SQLite it is the only one, so it always leads).
 */
export async function startControlPlane(
  o: ControlPlaneComponentOptions,
): Promise<RunningControlPlane> {
  const c = compile(o);
  const unlock = lockStateDir(o.stateDir, controlPlaneLock);
  const undo: (() => Promise<unknown>)[] = [];
  try {
    return await start(o, c, undo, unlock);
  } catch (err) {
    for (const f of undo.reverse()) await f().catch(() => {});
    unlock();
    throw err;
  }
}

async function start(
  o: ControlPlaneComponentOptions,
  c: Compiled,
  undo: (() => Promise<unknown>)[],
  unlock: () => void,
): Promise<RunningControlPlane> {
  const log = o.logger;
  // Port 0 (tests): one free now, so the advertised URL can name it.
  c.apiAddr.port = await ensureListenable(c.apiAddr, "--api-addr");
  const advertiseUrl = (o.advertiseUrl ?? httpUrl(c.apiAddr)).replace(/\/+$/, "");
  privateDirSync(o.stateDir); // its user only (0700): the admin token and maybe the stores
  const resources = c.shared
    ? openResourceStore({ url: o.records as string })
    : openResourceStore({ home: o.stateDir });
  undo.push(() => resources.close());
  await ensureDefaultNamespace(resources); // as Kubernetes: `default` always exists
  const adopted = await adoptNamespacesInUse(resources);
  if (adopted.length) log.info("declared the namespaces objects were already in", { adopted });
  const records = new Records(openRecordStore(o.records, o.stateDir));
  undo.push(() => records.store.close());
  // The runtime this control plane declares, served by its API to nodes on other hosts.
  const served = new ServedAssets();
  const runtime = o.runsc
    ? await ensureDefaultRuntime(resources, o.runsc, log, { apiUrl: advertiseUrl, served })
    : undefined;
  await records.createAtespace("default").catch((err) => {
    if (!isAteError(err, Code.AlreadyExists)) throw err;
  });
  const registry = new NodeRegistry({
    records,
    dial:
      o.dial ?? ((r) => new NodeClient(nodeHttpTransport(r.url, r.callSecret), `node ${r.name}`)),
    // Serving on loopback only, every node is on this host: loopback node URLs are fine then.
    allowLoopbackNodes: isLoopbackHost(c.apiAddr.host),
    ...(o.inProcessNodeUrl ? { inProcessNodeUrl: o.inProcessNodeUrl } : {}),
    logger: log,
  });
  // Its names in shared records, known before its first transition or term (see former-runs).
  const run = {
    owner: `controlplane-${randomBytes(4).toString("hex")}`,
    leaseHolder: `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`,
  };
  if (c.shared)
    await releaseFormerRuns({
      stateDir: o.stateDir,
      store: records.store,
      run,
      leaseName: controlPlaneDefaults.leaseName,
      logger: log,
    });
  const controlPlane = new ControlPlane({
    records,
    resources,
    nodes: registry,
    owner: run.owner,
    logger: log,
    ...(o.metricsRegistry ? { metricsRegistry: o.metricsRegistry } : {}),
    // Where suspends go for actors of older versions whose template was deleted since.
    fallbackSnapshotLocation: pathToFileURL(join(o.stateDir, "snapshots")).href,
    ...(o.debug ? { debug: true } : {}),
    // Each actor's own token (/run/ate/token), checked where every token is (TokenStore).
    actorTokens: new ActorTokens(records.store),
  });

  // Shared: its presence before its first transition (see Presence), so a leader elsewhere
  // tells its transitions from a crashed one's.
  const presence = c.shared
    ? new Presence({ store: records.store, owner: controlPlane.owner, logger: log })
    : undefined;
  const present = new AbortController();
  let presenceRun: Promise<void> = Promise.resolve();
  if (presence) {
    let held = () => {};
    const first = new Promise<void>((resolve) => {
      held = resolve;
    });
    presenceRun = presence.run({ signal: present.signal }, held);
    undo.push(async () => {
      present.abort();
      await presenceRun;
    });
    await Promise.race([first, presenceRun]);
  }

  const tokens = new TokenStore(records.store);
  // The admin token exists before the API answers: whoever sees it up finds the file.
  const credential = await ensureAdminCredential({
    stateDir: o.stateDir,
    tokens,
    // Each control plane on shared records its own admin token: a second one starting with
    // an empty state dir must not revoke the first one's (and its users' CLI config).
    ...(c.shared ? { name: adminTokenNameFor(hostname(), o.stateDir) } : {}),
    logger: log,
  });
  let server: RunningApiServer | undefined;
  const once = <T>(f: () => Promise<T>) => {
    let p: Promise<T> | undefined;
    return () => {
      p ??= f();
      return p;
    };
  };
  let apiClosed = false;
  const serveApi = once(async () => {
    if (apiClosed)
      throw new AteError(Code.FailedPrecondition, "the control plane is stopping: not serving");
    server = await startApiServer({
      ...c.apiAddr,
      controlPlane,
      resources,
      tokens,
      assets: served,
      nodeRegistry: registry,
      metricsRegistries: [controlPlane.metrics.registry, ...(o.apiMetricsRegistries ?? [])],
      logger: log,
      ...(o.debug ? { debug: true } : {}),
    });
  });
  undo.push(async () => server?.close());
  if (!o.deferApi) await serveApi();
  const written = o.clientConfig
    ? writeAdminClientConfig(o.clientConfig, advertiseUrl, credential)
    : undefined;
  if (written && !written.written)
    log.warn("could not write the CLI config", { problem: written.problem });

  const controllers = new Controllers({
    resources,
    records,
    registry,
    controlPlane,
    resyncMs: c.resyncMs,
    ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
    // Alone on its store (SQLite, its state dir locked), every other owner is a former run.
    orphaned: presence ? (owner) => presence.gone(owner) : (owner) => owner !== controlPlane.owner,
    ...(presence ? { afterPass: () => presence.sweep() } : {}),
    gc: {
      intervalMs: o.gcIntervalMs ?? defaultGcIntervalMs,
      fallbackLocation: pathToFileURL(join(o.stateDir, "snapshots")).href,
    },
    logger: log,
  });
  const stopLeading = new AbortController();
  const leading = (async () => {
    const aborted = new Promise<void>((resolve) =>
      stopLeading.signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    await Promise.race([o.controllersAfter, aborted]);
    if (stopLeading.signal.aborted) return;
    if (!c.shared) return controllers.lead({ signal: stopLeading.signal });
    const lease = new Lease({
      store: records.store,
      name: controlPlaneDefaults.leaseName,
      holder: run.leaseHolder,
      ttlMs: c.leaseTtlMs,
      logger: log,
    });
    await lease.run({ signal: stopLeading.signal }, (l) => controllers.lead(l));
  })().catch((err) => log.error("the controllers failed", { error: String(err) }));
  const settled = new Promise<void>((resolve) => {
    void controllers.firstPass.then(resolve);
    void leading.then(resolve); // stopped, or failed: nothing more will settle them here
    // Another control plane leads (none of the former runs: released above).
    if (c.shared)
      Lease.current(records.store, controlPlaneDefaults.leaseName).then(
        (other) => {
          if (other) resolve();
        },
        () => {},
      );
  });

  const closeApi = once(async () => {
    apiClosed = true;
    await serveApi().catch(() => {}); // one starting now is closed too; none starts later
    if (server) await bounded(server.close());
  });
  const stopControllers = once(async () => {
    stopLeading.abort();
    await leading;
    await controlPlane.stopResumes();
  });
  const stop = once(async () => {
    await closeApi();
    await stopControllers();
    await controlPlane.close();
    present.abort();
    await presenceRun;
    await resources.close().catch(() => {});
    await records.store.close().catch(() => {});
    unlock();
  });
  return {
    apiUrl: httpUrl(c.apiAddr),
    advertiseUrl,
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
    controlPlane,
    registry,
    records,
    resources,
    ...(runtime ? { runtime } : {}),
    shared: c.shared,
    settled,
    serveApi,
    wake: () => controllers.wake(),
    closeApi,
    stopControllers,
    wipeNode: (node) =>
      new PoolController({ resources, records, nodes: registry, logger: log }).wipe(node),
    stop,
  };
}
