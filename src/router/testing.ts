// For the router's tests: the real control plane and stores in process, reached over the
// in-process Control transport as a router, with a node agent whose "sandboxes" are local
// HTTP servers (one per worker, each worker its own loopback address) in pools of workers.
import http from "node:http";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { freePort } from "../../test/support/ports.ts";
import { actorTemplate, sandboxConfig, workerPool } from "../api/testing.ts";
import { ActorTemplateType, SandboxConfigType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import {
  ActivityController,
  type ActivityControllerOptions,
  ControlPlane,
  StaticNodeDirectory,
} from "../controlplane/index.ts";
import { isAteError } from "../errors/index.ts";
import type { CheckpointRequest, RestoreRequest, RunRequest, WorkerInfo } from "../node/index.ts";
import { type ActorStatus, Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { inProcessControlTransport, inProcessRouterPrincipal } from "./in-process-transport.ts";
import { RemoteBackend, type RemoteBackendOptions } from "./remote-backend.ts";

/** A node agent whose sandboxes are HTTP servers at the worker's address and the templates' port. */
export class HttpNodeAgent extends NoopNodeAgent {
  readonly servers = new Map<string, { actor: string; server: http.Server }>();
  private readonly addresses = new Map<string, string>();

  constructor(
    private readonly app: (actorId: string) => http.RequestListener,
    readonly port: number,
  ) {
    super();
  }

  override async createWorker(name: string): Promise<WorkerInfo> {
    const w = await super.createWorker(name);
    this.addresses.set(name, w.address);
    return w;
  }
  override async run(req: RunRequest): Promise<WorkerInfo> {
    const w = await super.run(req);
    await this.serve(req.worker, req.actor.actorId);
    return w;
  }
  override async restore(req: RestoreRequest): Promise<WorkerInfo> {
    const w = await super.restore(req);
    await this.serve(req.worker, req.actor.actorId);
    return w;
  }
  override async checkpoint(req: CheckpointRequest) {
    await this.close(req.worker);
    return super.checkpoint(req);
  }
  override async stop(name: string): Promise<void> {
    await this.close(name);
    await super.stop(name);
  }

  /** The actor's server stops, and nobody tells the control plane. */
  async vanish(actorId: string): Promise<void> {
    for (const [worker, s] of this.servers) if (s.actor === actorId) await this.close(worker);
  }

  async closeAll(): Promise<void> {
    for (const worker of [...this.servers.keys()]) await this.close(worker);
  }

  private async serve(worker: string, actorId: string): Promise<void> {
    const server = http.createServer(this.app(actorId));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, this.addresses.get(worker), resolve);
    });
    this.servers.set(worker, { actor: actorId, server });
  }

  private async close(worker: string): Promise<void> {
    const s = this.servers.get(worker);
    if (!s) return;
    this.servers.delete(worker);
    s.server.closeAllConnections();
    await new Promise((resolve) => s.server.close(resolve));
  }
}

export interface RouterTestbed {
  cp: ControlPlane;
  records: Records;
  resources: SqliteResourceStore;
  agent: HttpNodeAgent;
  /** Control API calls of every backend made here, by method name. */
  calls: Record<string, number>;
  /**
   * A router's backend over the in-process transport, as a router principal. The test's
   * workers serve on loopback, so it connects to those directly (unless `o` says otherwise).
   */
  backend(o?: Partial<RemoteBackendOptions>): RemoteBackend;
  /** An actor allowed in `pool` only; `idleSeconds` sets its template's idle timeout. */
  add(id: string, o?: { pool?: string; atespace?: string; idleSeconds?: number }): Promise<void>;
  status(id: string, atespace?: string): Promise<ActorStatus>;
  /** Watch events stop flowing until the returned function is called. */
  holdWatches(): () => void;
  /** Every open watch fails (UNAVAILABLE); with `forgetCursors`, reconnects get OUT_OF_RANGE. */
  breakWatches(o?: { forgetCursors?: boolean }): void;
  /**
   * Every worker is reached through this node entry point (host:port) from now on: node n1
   * is registered with it and `callSecret` (its entry token is nodeEntryToken of that); called
   * again with a new secret, the node "restarted".
   */
  routeThrough(entry: string, callSecret: string): Promise<void>;
  /** The control plane's activity controller, running until close(). */
  startActivity(o?: Partial<ActivityControllerOptions>): ActivityController;
  close(): Promise<void>;
}

/** `pools`: pool name → number of workers. */
export async function routerTestbed(
  app: (actorId: string) => http.RequestListener,
  pools: Record<string, number> = { p: 10 },
  options: { drainTimeoutMs?: number } = {},
): Promise<RouterTestbed> {
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new HttpNodeAgent(app, await freePort());
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
    ...(options.drainTimeoutMs !== undefined ? { drainTimeoutMs: options.drainTimeoutMs } : {}),
  });
  await resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
  for (const [pool, n] of Object.entries(pools)) {
    const p = workerPool(pool, { replicas: n });
    p.metadata.labels = { pool };
    await resources.create(WorkerPoolType, p);
    for (let i = 0; i < n; i++) {
      const name = `w-${pool}-${i}`;
      const w = await agent.createWorker(name);
      await records.putWorker({
        namespace: "default",
        pool,
        name,
        uid: `${pool}-${i}`,
        node: "n1",
        address: w.address,
        version: 0,
      });
    }
  }
  const calls: Record<string, number> = {};
  let hold: Promise<void> | undefined;
  const breakers = new Set<(err: Error) => void>();
  let forgetCursors = false;
  const transport = counting(inProcessControlTransport(cp, inProcessRouterPrincipal()), {
    calls,
    held: () => hold,
    breakers,
    forgetCursors: () => forgetCursors,
  });
  const activities: { c: ActivityController; stop: AbortController; done: Promise<void> }[] = [];
  const templates = new Set<string>();
  return {
    cp,
    records,
    resources,
    agent,
    calls,
    backend: (o = {}) =>
      new RemoteBackend({
        transport,
        templates: resources,
        templateCacheMs: 0,
        directAllowed: (address) => address.startsWith("127."),
        ...o,
      }),
    async add(id, o = {}) {
      const pool = o.pool ?? "p";
      const atespace = o.atespace ?? "t";
      const template = `${pool}${o.idleSeconds !== undefined ? `-idle${o.idleSeconds}` : ""}`;
      if (!templates.has(template)) {
        templates.add(template);
        const t = actorTemplate(template, { workerSelector: { matchLabels: { pool } } });
        t.metadata.annotations = {
          "ate.dev/http-port": String(agent.port),
          ...(o.idleSeconds !== undefined
            ? { "ate.dev/idle-timeout-seconds": String(o.idleSeconds) }
            : {}),
        };
        await resources.create(ActorTemplateType, t);
      }
      await records.createAtespace(atespace).catch((err) => {
        if (!isAteError(err)) throw err;
      });
      await cp.createActor({ atespace, name: id }, "default", template);
    },
    status: async (id, atespace = "t") => (await records.getActor(atespace, id)).status,
    holdWatches() {
      let release = () => {};
      hold = new Promise((resolve) => {
        release = resolve;
      });
      return () => {
        hold = undefined;
        release();
      };
    },
    breakWatches(o = {}) {
      forgetCursors = o.forgetCursors ?? false;
      for (const b of [...breakers])
        b(new ConnectError("the test broke the watch", Code.Unavailable));
    },
    async routeThrough(entry, callSecret) {
      const old = await records.getNode("n1");
      const now = Date.now();
      await records.putNode({
        name: "n1",
        version: old?.version ?? 0,
        url: "http://127.0.0.1:7444",
        entry,
        address: "127.0.0.1",
        arch: "amd64",
        sandboxClasses: ["gvisor"],
        capacity: { workers: 100, source: "test", memoryBytes: 2 ** 30, cpuMillis: 1000 },
        cachedAssets: [],
        cachedImages: [],
        heartbeatAt: now,
        state: "Ready",
        registeredAt: new Date(now).toISOString(),
        callSecret,
      });
      for (const w of await records.listWorkers()) await records.putWorker({ ...w, entry });
    },
    startActivity(o = {}) {
      const c = new ActivityController({
        controlPlane: cp,
        resources,
        intervalMs: 100,
        ...o,
      });
      const stop = new AbortController();
      activities.push({ c, stop, done: c.run({ signal: stop.signal }) });
      return c;
    },
    async close() {
      for (const a of activities) a.stop.abort();
      await Promise.all(activities.map((a) => a.done));
      await agent.closeAll();
      await records.store.close();
      await resources.close();
    },
  };
}

/** Counts calls by method; holds or breaks WatchActors streams when the test says so. */
function counting(
  inner: Transport,
  o: {
    calls: Record<string, number>;
    held: () => Promise<void> | undefined;
    breakers: Set<(err: Error) => void>;
    forgetCursors: () => boolean;
  },
): Transport {
  const count = (name: string) => {
    o.calls[name] = (o.calls[name] ?? 0) + 1;
  };
  return {
    unary(method, ...rest) {
      count(method.name);
      return inner.unary(method, ...rest);
    },
    async stream(method, signal, timeoutMs, header, input, contextValues) {
      count(method.name);
      if (method.name !== "WatchActors")
        return inner.stream(method, signal, timeoutMs, header, input, contextValues);
      const forget = o.forgetCursors();
      const rewritten = (async function* () {
        for await (const m of input) {
          const msg = m as { after?: string };
          yield (forget && msg.after ? { ...msg, after: "00000000:1" } : m) as typeof m;
        }
      })();
      const res = await inner.stream(method, signal, timeoutMs, header, rewritten, contextValues);
      let broken: (err: Error) => void = () => {};
      const failed = new Promise<never>((_, reject) => {
        broken = reject;
      });
      failed.catch(() => {});
      o.breakers.add(broken);
      const source = res.message[Symbol.asyncIterator]();
      const message = (async function* () {
        try {
          for (;;) {
            const next = await Promise.race([source.next(), failed]);
            if (next.done) return;
            const gate = o.held();
            if (gate) await Promise.race([gate, failed]);
            yield next.value;
          }
        } finally {
          o.breakers.delete(broken);
          await source.return?.();
        }
      })();
      return { ...res, message };
    },
  };
}
