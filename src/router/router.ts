import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { goldenAtespace } from "../controlplane/index.ts";
import { AteError, Code, httpStatus, isAteError } from "../errors/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";
import type { Actor } from "../records/index.ts";
import { type ActorAddress, resolveActor } from "./address.ts";
import type { RouterBackend } from "./backend.ts";
import { RouterMetrics } from "./metrics.ts";
import { endWith, proxyRequest, tunnelUpgrade } from "./proxy.ts";
import { inUse, type Route, RouteCache } from "./route-cache.ts";

export interface RouterOptions {
  backend: RouterBackend;
  /** Actors are `<actor>.<atespace>.actors.<domain>`. Default resources.substrate.ate.dev. */
  domain?: string;
  /** How long a request may wait for a free worker. Default 30 s. */
  queueWaitMs?: number;
  /** Requests that may wait for a worker at once. Default 1000. */
  maxQueue?: number;
  /** Idle time before an actor is suspended, unless its template says otherwise; 0 = never. Default 5 min. */
  idleTimeoutMs?: number;
  /** How long in-flight requests may take when an actor is about to be checkpointed. Default 10 s. */
  drainTimeoutMs?: number;
  /** Suspend the least-recently-used idle actor when requests wait for a worker. Default true. */
  evictIdle?: boolean;
  /** Routes kept (least recently used idle ones go first; see RouteCache). Default 10 000. */
  maxRoutes?: number;
  logger?: Logger;
}

/**
 * HTTP to any actor by name: running actors are forwarded to from a route cache without
 * touching the control plane; suspended or paused ones are resumed once however many requests
 * wait; requests queue (bounded) while no worker is free; idle actors are suspended.
 */
export class Router {
  readonly metrics: RouterMetrics;
  private readonly routes: RouteCache;
  private readonly waiters: (() => void)[] = [];
  private readonly domain: string;
  private readonly log: Logger;
  private timer?: NodeJS.Timeout;

  constructor(private readonly o: RouterOptions) {
    this.domain = o.domain ?? "resources.substrate.ate.dev";
    this.log = o.logger ?? silentLogger;
    this.routes = new RouteCache(o.maxRoutes);
    this.metrics = new RouterMetrics(() => this.routes.size);
    o.backend.setHooks({
      beforeCheckpoint: (a) => this.drain(`${a.atespace}/${a.actorId}`),
      changed: (a) => this.changed(a),
    });
  }

  /** Starts the idle-suspend and queue timers. */
  start(): void {
    this.timer = setInterval(() => void this.tick(), 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.routes.clear();
  }

  /** Routes cached now (running actors, and names with requests under way). */
  get routeCount(): number {
    return this.routes.size;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url === "/metrics" && !this.isActorHost(req.headers.host)) {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      res.end(this.metrics.render());
      return;
    }
    const where = resolveActor(req.headers.host, req.url, this.domain);
    if (where.ok) void this.forward(where.target, req, res);
    else this.fail(res, where.status, where.reason, "bad_address");
  };

  readonly handleUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    const where = resolveActor(req.headers.host, req.url, this.domain);
    if (!where.ok) {
      this.metrics.request("bad_address");
      endWith(socket, where.status, where.reason);
      return;
    }
    void this.upgrade(where.target, req, socket, head);
  };

  private isActorHost(host: string | undefined): boolean {
    return (host ?? "")
      .toLowerCase()
      .replace(/:\d+$/, "")
      .replace(/\.$/, "")
      .endsWith(`.actors.${this.domain}`);
  }

  /** Where the actor runs, resuming it (once, for all waiting requests) when it does not. */
  private async ensure(r: Route, fresh = false): Promise<NonNullable<Route["target"]>> {
    for (;;) {
      if (r.draining) await r.draining.done;
      if (r.target && !fresh) return r.target;
      fresh = false;
      if (!r.resuming) {
        const started = Date.now();
        r.resuming = this.resume(r)
          .then(() => this.metrics.resumed((Date.now() - started) / 1000))
          .finally(() => {
            r.resuming = undefined;
          });
      }
      await r.resuming;
      if (r.target) return r.target;
    }
  }

  private async resume(r: Route): Promise<void> {
    const deadline = Date.now() + (this.o.queueWaitMs ?? 30_000);
    let queued = false;
    for (;;) {
      try {
        let actor = await this.o.backend.getActor(r.atespace, r.actor);
        if (actor.status !== "RUNNING")
          actor = await this.o.backend.resumeActor(r.atespace, r.actor);
        await this.learn(r, actor);
        return;
      } catch (err) {
        const e = AteError.from(err);
        if (e.code === Code.Aborted) {
          await sleep(50); // another resume or suspend is under way: look again shortly
        } else if (e.code !== Code.ResourceExhausted) {
          throw e;
        } else {
          if (!queued) {
            if (this.waiters.length >= (this.o.maxQueue ?? 1000))
              throw new AteError(
                Code.Unavailable,
                `actor ${r.key}: no free worker and the queue of waiting requests is full`,
              );
            queued = true;
          }
          const left = deadline - Date.now();
          if (left <= 0)
            throw new AteError(
              Code.Unavailable,
              `actor ${r.key}: no free worker after ${Math.round((this.o.queueWaitMs ?? 30_000) / 1000)}s`,
            );
          await this.waitForWorker(r, left);
        }
      }
    }
  }

  private waitForWorker(r: Route, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(
        () => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve();
        },
        Math.min(ms, 1000),
      );
      this.waiters.push(wake);
      this.metrics.queueDepth = this.waiters.length;
      if (this.o.evictIdle ?? true) this.evictOne(r);
    });
  }

  private async learn(r: Route, actor: Actor): Promise<void> {
    if (actor.status !== "RUNNING" || !actor.worker)
      throw new AteError(Code.Unavailable, `actor ${r.key} is ${actor.status}`);
    const settings = await this.o.backend.actorSettings(actor);
    r.idleTimeoutMs = settings.idleTimeoutMs;
    r.target = { host: actor.worker.address, port: settings.port, worker: actor.worker.name };
  }

  /** The control plane says the actor changed: drop routes that are no longer right. */
  private changed(a: Actor): void {
    const r = this.routes.peek(`${a.atespace}/${a.actorId}`);
    if (r && (a.status !== "RUNNING" || r.target?.worker !== a.worker?.name)) {
      if (r.draining && a.status !== "RUNNING") this.endDrain(r, r.draining); // checkpoint over
      this.routes.unroute(r);
      this.routes.release(r);
    }
    if (a.status === "SUSPENDED" || a.status === "PAUSED") this.waiters.shift()?.();
    this.metrics.queueDepth = this.waiters.length;
  }

  /**
   * Before a checkpoint: stop forwarding (new requests wait), let in-flight ones finish
   * (bounded), and close pooled keep-alive connections to the worker.
   */
  private async drain(key: string): Promise<void> {
    const r = this.routes.peek(key);
    if (!r) return;
    let release = () => {};
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const draining = { done, release };
    r.draining = draining;
    const deadline = Date.now() + (this.o.drainTimeoutMs ?? 10_000);
    while (r.inflight > 0 && Date.now() < deadline) await sleep(10);
    this.routes.unroute(r);
    // Waiting requests may go again once the checkpoint is under way; they resume the actor.
    setTimeout(() => this.endDrain(r, draining), 0);
  }

  private endDrain(r: Route, draining: NonNullable<Route["draining"]>): void {
    if (r.draining !== draining) return;
    r.draining = undefined;
    draining.release();
    this.routes.release(r);
  }

  private async forward(t: ActorAddress, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const r = this.routes.use(t);
    let retried = false;
    r.inflight++;
    r.lastActive = Date.now();
    const streaming = (req.headers.accept ?? "").includes("text/event-stream");
    if (streaming) r.longLived++;
    try {
      for (;;) {
        let target: NonNullable<Route["target"]>;
        try {
          target = await this.ensure(r, retried);
        } catch (err) {
          return this.failWith(res, err);
        }
        const outcome = await proxyRequest(this.routes.agent(r), target, t.path, req, res);
        if (outcome === "done") return this.metrics.request("forwarded");
        if (outcome === "refused" && !retried) {
          // The cached worker no longer serves this actor: look again (resuming if needed).
          retried = true;
          r.target = undefined;
          continue;
        }
        return this.fail(res, 502, `actor ${r.key} did not answer`, "bad_gateway");
      }
    } finally {
      r.inflight--;
      if (streaming) r.longLived--;
      r.lastActive = Date.now();
      this.routes.release(r); // e.g. a 404: unknown names are never kept
    }
  }

  private async upgrade(
    t: ActorAddress,
    req: IncomingMessage,
    client: Socket,
    head: Buffer,
  ): Promise<void> {
    const r = this.routes.use(t);
    r.longLived++;
    r.lastActive = Date.now();
    const done = () => {
      r.longLived--;
      r.lastActive = Date.now();
      this.routes.release(r);
    };
    let target: NonNullable<Route["target"]>;
    try {
      target = await this.ensure(r);
    } catch (err) {
      const e = AteError.from(err);
      this.metrics.request(e.code === Code.NotFound ? "not_found" : "error");
      endWith(client, httpStatus(e.code), e.message, retryAfter(e.code));
      done();
      return;
    }
    tunnelUpgrade(target, t.path, req, client, head, {
      opened: () => this.metrics.request("upgraded"),
      failed: () => this.metrics.request("bad_gateway"),
      closed: done,
    });
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    for (const r of this.routes.list()) {
      const timeout = r.idleTimeoutMs ?? this.o.idleTimeoutMs ?? 300_000;
      if (
        !r.target ||
        timeout === 0 ||
        r.inflight > 0 ||
        r.longLived > 0 ||
        r.resuming ||
        r.draining
      )
        continue;
      if (now - r.lastActive < timeout) continue;
      this.metrics.idleSuspends++;
      this.log.info("suspending idle actor", { actor: r.key, idleMs: now - r.lastActive });
      await this.o.backend
        .suspendActor(r.atespace, r.actor)
        .catch((err) => this.log.warn("idle suspend failed", { actor: r.key, error: String(err) }));
    }
    this.waiters.shift()?.();
  }

  /**
   * Makes room for an actor whose pools are full: suspends (state kept) the least recently used
   * idle actor on a worker that could serve it; freeing any other worker would not help. Actors
   * this router forwards to are idle when no request or stream is open; a running actor it has
   * never forwarded to (e.g. resumed through the API) counts as idle since it started, so it
   * goes first. Golden actors are never evicted. One eviction runs at a time; false when no
   * actor qualifies or the suspend failed.
   */
  evictFor(atespace: string, actorId: string): Promise<boolean> {
    const run = (this.evicting ?? Promise.resolve(false)).then(() =>
      this.evictNow(atespace, actorId),
    );
    this.evicting = run;
    void run.finally(() => {
      if (this.evicting === run) this.evicting = undefined;
    });
    return run;
  }

  private evicting?: Promise<boolean>;

  /** For a waiting request: at most one eviction under way, however many requests wait. */
  private evictOne(r: Route): void {
    if (!this.evicting) void this.evictFor(r.atespace, r.actor);
  }

  private async evictNow(atespace: string, actorId: string): Promise<boolean> {
    const waiting = `${atespace}/${actorId}`;
    let victim: { atespace: string; actor: string; key: string; lastActive: number } | undefined;
    try {
      for (const w of await this.o.backend.servingWorkers(atespace, actorId)) {
        if (!w.actor || w.actor.atespace === goldenAtespace) continue;
        const key = `${w.actor.atespace}/${w.actor.actorId}`;
        const r = this.routes.peek(key);
        if (key === waiting || (r && (!r.target || inUse(r)))) continue;
        const lastActive = r?.lastActive ?? 0;
        if (!victim || lastActive < victim.lastActive)
          victim = { atespace: w.actor.atespace, actor: w.actor.actorId, key, lastActive };
      }
      if (!victim) return false;
      this.metrics.evictions++;
      this.log.info("suspending the least recently used actor to make room", {
        actor: victim.key,
        for: waiting,
      });
      await this.o.backend.suspendActor(victim.atespace, victim.actor);
      return true;
    } catch (err) {
      if (!isAteError(err, Code.Aborted))
        this.log.warn("eviction failed", { actor: victim?.key, for: waiting, error: String(err) });
      return false;
    }
  }

  private failWith(res: ServerResponse, err: unknown): void {
    const e = AteError.from(err);
    for (const [k, v] of Object.entries(retryAfter(e.code))) res.setHeader(k, v);
    this.fail(res, httpStatus(e.code), e.message, e.code === Code.NotFound ? "not_found" : "error");
  }

  private fail(res: ServerResponse, status: number, message: string, outcome: string): void {
    this.metrics.request(outcome);
    if (res.headersSent) return void res.destroy();
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
    res.end(`${message}\n`);
  }
}

/** Busy answers tell clients when to come back. */
function retryAfter(code: Code): Record<string, string> {
  return code === Code.ResourceExhausted || code === Code.Unavailable ? { "retry-after": "5" } : {};
}
