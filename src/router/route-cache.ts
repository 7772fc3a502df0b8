import http from "node:http";
import type { ActorAddress } from "./address.ts";

export interface Route {
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
  /** Keep-alive connections to the actor's worker (made on first use); closed before a checkpoint. */
  agent?: http.Agent;
}

/** Default bound on cached routes. */
export const defaultMaxRoutes = 10_000;

/**
 * The router's routes, least recently used first. A route is kept only while it is worth
 * something: its actor runs (so requests skip the control plane and idle time is tracked), or
 * requests are using it (waiting for a resume, in flight, streaming). Unknown names, 404s and
 * actors that left RUNNING are dropped as soon as nothing uses them, and beyond `max` routes
 * the least recently used idle ones go (a dropped running actor is looked up again on its next
 * request). Routes in use are never dropped, so the count may exceed `max` by the number of
 * routes with requests under way.
 */
export class RouteCache {
  private readonly routes = new Map<string, Route>();

  constructor(private readonly max = defaultMaxRoutes) {}

  get size(): number {
    return this.routes.size;
  }

  /** Without touching its place in the LRU order. */
  peek(key: string): Route | undefined {
    return this.routes.get(key);
  }

  /** A copy, least recently used first: safe to iterate across awaits. */
  list(): Route[] {
    return [...this.routes.values()];
  }

  /** The route for an address, made most recently used (created when missing). */
  use(t: ActorAddress): Route {
    const key = `${t.atespace}/${t.actor}`;
    let r = this.routes.get(key);
    if (r) this.routes.delete(key);
    else
      r = { key, atespace: t.atespace, actor: t.actor, inflight: 0, longLived: 0, lastActive: 0 };
    this.routes.set(key, r);
    if (this.routes.size > this.max) this.trim(r);
    return r;
  }

  /** Keep-alive connections to the route's actor, made on first use. */
  agent(r: Route): http.Agent {
    r.agent ??= new http.Agent({ keepAlive: true, maxSockets: 256 });
    return r.agent;
  }

  /** The actor no longer runs where the route says: forget where, close pooled connections. */
  unroute(r: Route): void {
    r.target = undefined;
    r.agent?.destroy();
    r.agent = undefined;
  }

  /** Drops the route if nothing needs it any more: its actor does not run and nothing uses it. */
  release(r: Route): void {
    if (!r.target && !inUse(r) && this.routes.get(r.key) === r) this.drop(r);
  }

  clear(): void {
    for (const r of this.routes.values()) r.agent?.destroy();
    this.routes.clear();
  }

  /** Drops least recently used routes nothing uses, never `keep` (the one about to be used). */
  private trim(keep: Route): void {
    for (const r of this.routes.values()) {
      if (this.routes.size <= this.max) return;
      if (r !== keep && !inUse(r)) this.drop(r);
    }
  }

  private drop(r: Route): void {
    this.routes.delete(r.key);
    this.unroute(r);
  }
}

/** Requests are using the route: in flight, streaming, or waiting for a resume or a drain. */
export function inUse(r: Route): boolean {
  return r.inflight > 0 || r.longLived > 0 || r.resuming !== undefined || r.draining !== undefined;
}
