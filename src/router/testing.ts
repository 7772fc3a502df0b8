// A router backend for tests: actors backed by local HTTP servers (stand-ins for workers) in
// pools of named workers; resume "starts" an actor's server on a free worker of its pools.
import http from "node:http";
import type net from "node:net";
import type { ActorHooks } from "../controlplane/index.ts";
import { AteError, Code } from "../errors/index.ts";
import type { Actor, Worker } from "../records/index.ts";
import type { RouterBackend } from "./backend.ts";

export class FakeBackend implements RouterBackend {
  readonly calls = { get: 0, resume: 0, suspend: 0, servingWorkers: 0 };
  hooks?: ActorHooks;
  /** When true, every resume finds no free worker. */
  full = false;
  readonly actors = new Map<string, Actor>();
  /** The pools each actor may run in. */
  readonly allowed = new Map<string, string[]>();
  readonly workers: Worker[] = [];
  readonly servers = new Map<string, http.Server>();

  /** `pools`: pool name → number of workers. */
  constructor(
    private readonly app: (id: string) => http.RequestListener,
    pools: Record<string, number> = { p: 10 },
  ) {
    for (const [pool, n] of Object.entries(pools))
      for (let i = 0; i < n; i++)
        this.workers.push({
          namespace: "default",
          pool,
          name: `w-${pool}-${i}`,
          uid: `${pool}-${i}`,
          node: "n",
          address: "127.0.0.1",
          version: 1,
        });
  }

  add(id: string, pools = ["p"], atespace = "t"): void {
    this.allowed.set(id, pools);
    this.actors.set(id, {
      atespace,
      actorId: id,
      version: 1,
      templateNamespace: "default",
      templateName: "x",
      status: "SUSPENDED",
      createdAt: "",
    });
  }

  async getActor(_a: string, id: string): Promise<Actor> {
    this.calls.get++;
    const a = this.actors.get(id);
    if (!a) throw new AteError(Code.NotFound, `actor t/${id} not found`);
    return a;
  }

  async resumeActor(_a: string, id: string): Promise<Actor> {
    this.calls.resume++;
    const a = await this.getActor("t", id);
    if (a.status === "RUNNING") return a;
    const worker = this.full
      ? undefined
      : this.workers.find((w) => !w.actor && this.allowed.get(id)?.includes(w.pool));
    if (!worker) throw new AteError(Code.ResourceExhausted, `no free worker for t/${id}`);
    worker.actor = { atespace: a.atespace, actorId: id, templateNamespace: "", templateName: "" };
    await new Promise((r) => setTimeout(r, 20));
    const server = http.createServer(this.app(id));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    this.servers.set(id, server);
    const running: Actor = {
      ...a,
      status: "RUNNING",
      worker: {
        namespace: worker.namespace,
        name: worker.name,
        pool: worker.pool,
        node: worker.node,
        address: "127.0.0.1",
        uid: String((server.address() as net.AddressInfo).port),
      },
    };
    this.actors.set(id, running);
    this.hooks?.changed(running);
    return running;
  }

  async suspendActor(_a: string, id: string): Promise<Actor> {
    this.calls.suspend++;
    const a = await this.getActor("t", id);
    if (a.status !== "RUNNING") return a;
    await this.hooks?.beforeCheckpoint(a);
    const suspended = await this.vanish(id);
    this.hooks?.changed(suspended);
    return suspended;
  }

  /** The actor's server stops and its worker is freed, without telling the router. */
  async vanish(id: string): Promise<Actor> {
    const server = this.servers.get(id);
    server?.closeAllConnections();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    this.servers.delete(id);
    const w = this.workers.find((x) => x.actor?.actorId === id);
    if (w) delete w.actor;
    const { worker: _w, ...rest } = this.actors.get(id) as Actor;
    const suspended: Actor = { ...rest, status: "SUSPENDED" };
    this.actors.set(id, suspended);
    return suspended;
  }

  async servingWorkers(_a: string, id: string): Promise<Worker[]> {
    this.calls.servingWorkers++;
    const pools = this.allowed.get(id) ?? [];
    return this.workers.filter((w) => pools.includes(w.pool)).map((w) => ({ ...w }));
  }

  async actorSettings(a: Actor): Promise<{ port: number; idleTimeoutMs?: number }> {
    return {
      port: Number(a.worker?.uid),
      ...(a.actorId.startsWith("idle") ? { idleTimeoutMs: 300 } : {}),
    };
  }

  setHooks(h: ActorHooks): void {
    this.hooks = h;
  }

  async close(): Promise<void> {
    for (const s of this.servers.values()) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }
}
