import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { AteError, Code, httpStatus, isAteError } from "../errors/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";
import type { Actor } from "../records/index.ts";
import { type ActorAddress, resolveActor } from "./address.ts";
import type { RouterBackend } from "./backend.ts";
import { RouterMetrics } from "./metrics.ts";
import { proxyRequest, tunnelUpgrade } from "./proxy.ts";

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
  logger?: Logger;
}

interface Route {
  key: string;
  atespace: string;
  actor: string;
  /** host:port of the running actor; undefined when it must be resumed. */
  target?: { host: string; port: number; worker: string };
  resuming?: Promise<void>;
  draining?: { done: Promise<void>; release: () => void };
  inflight: number;
  /** Open WebSocket, SSE and other long-lived exchanges. */
  longLived: number;
  lastActive: number;
  idleTimeoutMs?: number;
  /** Keep-alive connections to the actor's worker; closed before a checkpoint. */
  agent: http.Agent;
}

/**
 * HTTP to any actor by name: running actors are forwarded to from a route cache without
 * touching the control plane; suspended or paused ones are resumed once however many requests
 * wait; requests queue (bounded) while no worker is free; idle actors are suspended.
 */
export class Router {
  readonly metrics = new RouterMetrics();
  private readonly routes = new Map<string, Route>();
  private readonly waiters: (() => void)[] = [];
  private readonly domain: string;
  private readonly log: Logger;
  private timer?: NodeJS.Timeout;

  constructor(private readonly o: RouterOptions) {
    this.domain = o.domain ?? "resources.substrate.ate.dev";
    this.log = o.logger ?? silentLogger;
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
    for (const r of this.routes.values()) r.agent.destroy();
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
      socket.end(
        `HTTP/1.1 ${where.status} Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${where.reason}\n`,
      );
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

  private route(t: ActorAddress): Route {
    const key = `${t.atespace}/${t.actor}`;
    let r = this.routes.get(key);
    if (!r) {
      r = {
        key,
        atespace: t.atespace,
        actor: t.actor,
        inflight: 0,
        longLived: 0,
        lastActive: Date.now(),
        agent: new http.Agent({ keepAlive: true, maxSockets: 256 }),
      };
      this.routes.set(key, r);
    }
    return r;
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
          await this.waitForWorker(left);
        }
      }
    }
  }

  private waitForWorker(ms: number): Promise<void> {
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
      if (this.o.evictIdle ?? true) void this.evictOne();
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
    const r = this.routes.get(`${a.atespace}/${a.actorId}`);
    if (r && (a.status !== "RUNNING" || r.target?.worker !== a.worker?.name)) {
      r.target = undefined;
      r.agent.destroy();
      r.agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    }
    if (a.status === "SUSPENDED" || a.status === "PAUSED") this.waiters.shift()?.();
    this.metrics.queueDepth = this.waiters.length;
  }

  /**
   * Before a checkpoint: stop forwarding (new requests wait), let in-flight ones finish
   * (bounded), and close pooled keep-alive connections to the worker.
   */
  private async drain(key: string): Promise<void> {
    const r = this.routes.get(key);
    if (!r) return;
    let release = () => {};
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    r.draining = { done, release };
    const deadline = Date.now() + (this.o.drainTimeoutMs ?? 10_000);
    while (r.inflight > 0 && Date.now() < deadline) await sleep(10);
    r.target = undefined;
    r.agent.destroy();
    r.agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    // Waiting requests may go again once the checkpoint is under way; they resume the actor.
    setTimeout(() => {
      r.draining = undefined;
      release();
    }, 0);
  }

  private async forward(t: ActorAddress, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const r = this.route(t);
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
        const outcome = await proxyRequest(r.agent, target, t.path, req, res);
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
    }
  }

  private async upgrade(
    t: ActorAddress,
    req: IncomingMessage,
    client: Socket,
    head: Buffer,
  ): Promise<void> {
    const r = this.route(t);
    r.longLived++;
    r.lastActive = Date.now();
    const done = () => {
      r.longLived--;
      r.lastActive = Date.now();
    };
    let target: NonNullable<Route["target"]>;
    try {
      target = await this.ensure(r);
    } catch (err) {
      const e = AteError.from(err);
      client.end(
        `HTTP/1.1 ${httpStatus(e.code)} Error\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${e.message}\n`,
      );
      done();
      return;
    }
    tunnelUpgrade(target, t.path, req, client, head, {
      opened: () => this.metrics.request("upgraded"),
      closed: done,
    });
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    for (const r of this.routes.values()) {
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

  /** Makes room for waiting requests: suspends the least-recently-used idle actor. */
  private evicting = false;
  private async evictOne(): Promise<void> {
    if (this.evicting) return;
    const idle = [...this.routes.values()]
      .filter(
        (r) => r.target && r.inflight === 0 && r.longLived === 0 && !r.resuming && !r.draining,
      )
      .sort((a, b) => a.lastActive - b.lastActive)[0];
    if (!idle) return;
    this.evicting = true;
    try {
      this.metrics.evictions++;
      this.log.info("suspending the least recently used actor to make room", { actor: idle.key });
      await this.o.backend.suspendActor(idle.atespace, idle.actor);
    } catch (err) {
      if (!isAteError(err, Code.Aborted))
        this.log.warn("eviction failed", { actor: idle.key, error: String(err) });
    } finally {
      this.evicting = false;
    }
  }

  private failWith(res: ServerResponse, err: unknown): void {
    const e = AteError.from(err);
    const status = httpStatus(e.code);
    if (e.code === Code.ResourceExhausted || e.code === Code.Unavailable)
      res.setHeader("retry-after", "5");
    this.fail(res, status, e.message, e.code === Code.NotFound ? "not_found" : "error");
  }

  private fail(res: ServerResponse, status: number, message: string, outcome: string): void {
    this.metrics.request(outcome);
    if (res.headersSent) return void res.destroy();
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
    res.end(`${message}\n`);
  }
}
