import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { hostname } from "node:os";
import { AteError, Code, httpStatus } from "../errors/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";
import { type Registry, serveMetrics } from "../metrics/index.ts";
import { ActivityReporter, routeActivity } from "./activity-reporter.ts";
import { ActorLocator } from "./actor-locator.ts";
import { ActorView } from "./actor-view.ts";
import { type ActorAddress, resolveActor } from "./address.ts";
import type { RoutedActor, RouterBackend } from "./backend.ts";
import { connectOrRetry } from "./entry-connect.ts";
import { RouterMetrics } from "./metrics.ts";
import { endWith, proxyRequest, tunnelUpgrade } from "./proxy.ts";
import { type Route, RouteCache, sameTarget } from "./route-cache.ts";
import { WorkerQueue } from "./worker-queue.ts";

export interface RouterOptions {
  backend: RouterBackend;
  /** Actors are `<actor>.<atespace>.actors.<domain>`. Default resources.substrate.ate.dev. */
  domain?: string;
  /** How long a request may wait for a free worker while none is freed (at most 10× in all). Default 30 s. */
  queueWaitMs?: number;
  /** Requests that may wait for a worker at once. Default 1000. */
  maxQueue?: number;
  /** How long in-flight requests may take once their actor is being checkpointed. Default 10 s. */
  drainTimeoutMs?: number;
  /** Routes kept (least recently used idle ones go first; see RouteCache). Default 10 000. */
  maxRoutes?: number;
  /** How often the router reports its activity to the control plane. Default 1 s. */
  reportIntervalMs?: number;
  /** Names this router process in its reports. Default `<host name>-<random>`. */
  id?: string;
  /**
   * Requests for names the watch has never shown that are checked with the control plane
   * each second (an actor created a moment ago may not have reached the watch yet); beyond
   * that, such names are answered 404 at once, so a flood of made-up names stays here. Default 50.
   */
  unknownChecksPerSecond?: number;
  logger?: Logger;
  /**
   * Where the router registers its metrics, served at /metrics. Default: a registry of its own;
   * `ate up` passes the one its control plane and node share, so each /metrics shows all.
   */
  metricsRegistry?: Registry;
}

/**
 * HTTP to any actor by name. Where actors run comes from the control plane's actor watch, so
 * requests to a running actor touch no control plane; suspended or paused ones are resumed
 * once however many requests wait; requests queue (bounded) while no worker is free. A route
 * is dropped the moment its actor leaves RUNNING; when it is being checkpointed, requests
 * under way may finish (bounded) while new ones wait. The router reports its activity: the
 * control plane decides idle suspension and eviction from every router's reports.
 */
export class Router {
  readonly metrics: RouterMetrics;
  private readonly routes: RouteCache;
  private readonly view: ActorView;
  private readonly queue: WorkerQueue;
  private readonly domain: string;
  private readonly log: Logger;
  private readonly reporter: ActivityReporter;
  private running?: { stop: AbortController; done: Promise<unknown> };
  private readonly locator: ActorLocator;

  constructor(private readonly o: RouterOptions) {
    this.domain = o.domain ?? "resources.substrate.ate.dev";
    this.log = o.logger ?? silentLogger;
    this.routes = new RouteCache(o.maxRoutes);
    this.view = new ActorView({
      changed: (key, a, version) => this.changed(key, a, version),
      live: (on) => {
        this.metrics.watchLive = on;
        for (const r of this.routes.list()) {
          if (on) {
            // Routes learned by asking meanwhile: kept only where the watch agrees.
            const a = this.view.get(r.key);
            const newer = this.view.version(r.key) > r.version;
            if (
              r.target &&
              newer &&
              (a?.status !== "RUNNING" || a.worker?.name !== r.target.worker)
            )
              this.routes.unroute(r);
          } else if (r.draining) {
            // Routes are checked per request now; drains end, waiting requests ask themselves.
            this.endDrain(r, r.draining);
          }
        }
      },
    });
    this.metrics = new RouterMetrics(() => this.routes.size, o.metricsRegistry);
    this.queue = new WorkerQueue((n) => {
      this.metrics.queueDepth = n;
    });
    const id = o.id ?? `${hostname()}-${randomBytes(3).toString("hex")}`;
    this.reporter = new ActivityReporter(
      o.backend,
      id.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 128),
      () => routeActivity(this.routes.list(), this.view),
      o.reportIntervalMs ?? 1000,
      this.log,
    );
    this.locator = new ActorLocator(o, {
      view: this.view,
      routes: this.routes,
      queue: this.queue,
      reporter: this.reporter,
      metrics: this.metrics,
      log: this.log,
    });
  }

  /** Follows the actor watch and reports activity until stop(). */
  start(): void {
    if (this.running) return;
    const stop = new AbortController();
    this.running = {
      stop,
      done: Promise.all([
        this.o.backend.watch(this.view, stop.signal),
        this.reporter.run(stop.signal),
      ]),
    };
  }

  /** Stops watching and reporting (a last, empty report says this router forwards nothing). */
  async stop(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    this.routes.clear();
    if (!running) return;
    running.stop.abort();
    await running.done;
    await this.reporter.farewell();
  }

  /** Routes cached now (running actors, and names with requests under way). */
  get routeCount(): number {
    return this.routes.size;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url === "/metrics" && !this.isActorHost(req.headers.host)) {
      serveMetrics([this.metrics.registry], res);
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

  /**
   * The watch says the actor changed (`a`: it holds a worker; undefined: it does not) at
   * `version`; news older than what a route was learned from (by asking) is no news.
   */
  private changed(key: string, a: RoutedActor | undefined, version: number): void {
    const route = this.routes.peek(key);
    if (!a) this.locator.workerFreed(); // a worker may be free now
    const r = route && version > route.version ? route : undefined;
    // Freezing waits for every router's word that it has seen the mark: say so at once.
    if (a?.frozen) this.reporter.soon();
    if (a?.status === "SUSPENDING" || a?.status === "PAUSING") {
      if (r?.target && !r.draining) void this.drain(r);
      this.reporter.soon(); // the control plane waits for every router's word before it
      return;
    }
    if (!r) return;
    if (r.draining) this.endDrain(r, r.draining); // the checkpoint is over (or undone)
    if (a?.status !== "RUNNING" || !a.worker || !sameTarget(r.target, a.worker)) {
      this.routes.unroute(r);
      this.routes.release(r);
    }
  }

  /**
   * The actor is being checkpointed: stop forwarding (new requests wait), let in-flight ones
   * finish (bounded), close pooled keep-alive connections, and say so at once.
   */
  private async drain(r: Route): Promise<void> {
    let release = () => {};
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const draining = { done, release, over: false };
    r.draining = draining;
    const deadline = Date.now() + (this.o.drainTimeoutMs ?? 10_000);
    while (r.inflight > 0 && Date.now() < deadline && r.draining === draining)
      await new Promise((resolve) => setTimeout(resolve, 10));
    draining.over = true;
    this.routes.unroute(r);
    this.reporter.soon();
    // Without a live watch the end of the checkpoint may never be heard: waiters ask then.
    if (!this.view.isLive) this.endDrain(r, draining);
  }

  private endDrain(r: Route, draining: NonNullable<Route["draining"]>): void {
    if (r.draining !== draining) return;
    r.draining = undefined;
    draining.release();
    this.routes.release(r);
  }

  private async forward(t: ActorAddress, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const r = this.routes.use(t);
    let refusals = 0;
    let refusedAt = -1; // the actor version the last refused attempt went by
    r.pending++;
    r.lastActive = Date.now();
    const streaming = (req.headers.accept ?? "").includes("text/event-stream");
    const began = performance.now();
    try {
      for (;;) {
        let target: NonNullable<Route["target"]>;
        try {
          target = await this.locator.ensure(r, refusals > 0, req.headers);
        } catch (err) {
          return this.failWith(res, err);
        }
        const waitedMs = performance.now() - began;
        // Where a request that waited (a resume, a thaw) spends its time: see route.resume.
        if (waitedMs > 1 && refusals === 0)
          res.once("finish", () =>
            this.log.debug("route.waited", {
              actor: r.key,
              waitMs: Math.round(waitedMs),
              proxyMs: Math.round(performance.now() - began - waitedMs),
            }),
          );
        const agent = this.routes.agent(r, target);
        r.inflight++;
        if (streaming) r.longLived++;
        const outcome = await proxyRequest(agent, target, t.path, req, res, (err, how) =>
          this.log.debug("route.upstream-error", {
            actor: r.key,
            worker: target.worker,
            error: err.code ?? err.message,
            ...how,
          }),
        ).finally(() => {
          r.inflight--;
          if (streaming) r.longLived--;
        });
        if (outcome === "done") return this.metrics.request("forwarded");
        // Again only while each answer is news: a refusal by the same run of the actor (the
        // same version, e.g. a token the entry point keeps refusing) ends in 502.
        if (outcome === "refused" && refusals < maxRefusals && r.version !== refusedAt) {
          // The cached worker no longer serves this actor, or its node's entry point refused
          // the token (the node restarted), or the actor was evicted again between its resume
          // and this request (swaps under oversubscription): ask again (resuming if needed),
          // with a fresh token. The request never reached the actor (its body is unread).
          refusedAt = r.version;
          refusals++;
          this.routes.unroute(r);
          if (refusals > 1) await new Promise((resolve) => setTimeout(resolve, 20 * refusals));
          continue;
        }
        return this.fail(res, 502, `actor ${r.key} did not answer`, "bad_gateway");
      }
    } finally {
      r.pending--;
      r.lastActive = Date.now();
      // Idle now while requests wait for a worker: the control plane may take it at once.
      if (r.pending === 0 && r.longLived === 0 && this.queue.size > 0) this.reporter.soon();
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
    r.pending++;
    r.lastActive = Date.now();
    let target: NonNullable<Route["target"]>;
    try {
      target = await this.locator.ensure(r, false, req.headers);
    } catch (err) {
      const e = AteError.from(err);
      this.metrics.request(e.code === Code.NotFound ? "not_found" : "error");
      endWith(client, httpStatus(e.code), e.message, retryAfter(e.code));
      r.pending--;
      this.routes.release(r);
      return;
    }
    r.pending--;
    r.longLived++;
    // As for a request: refused, ask where the actor runs now (a fresh token) and try once more.
    const again = () => {
      this.routes.unroute(r);
      return this.locator.ensure(r, true);
    };
    tunnelUpgrade((done) => connectOrRetry(target, again, done), t.path, req, client, head, {
      opened: () => this.metrics.request("upgraded"),
      failed: () => this.metrics.request("bad_gateway"),
      closed: () => {
        r.longLived--;
        r.lastActive = Date.now();
        this.routes.release(r);
      },
    });
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

/**
 * Refused connections a request is forwarded again after (each time asking where its actor
 * runs, resuming it if need be, and finding a newer run of it); beyond that it is answered 502.
 */
const maxRefusals = 5;

/** Busy answers tell clients when to come back. */
function retryAfter(code: Code): Record<string, string> {
  return code === Code.ResourceExhausted || code === Code.Unavailable ? { "retry-after": "5" } : {};
}
