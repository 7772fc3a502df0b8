import type http from "node:http";
import type { ActorAddress } from "./address.ts";
import type { RoutedActor } from "./backend.ts";
import { type Upstream, UpstreamAgent } from "./entry-connect.ts";

export interface Route {
  key: string;
  atespace: string;
  actor: string;
  /** Where the running actor is; undefined when it must be found (or resumed). */
  target?: Upstream & { worker: string };
  /** The actor version the target was learned from: older news of the actor is ignored. */
  version: number;
  resuming?: Promise<void>;
  /** Its checkpoint is coming: new requests wait; `over` once those under way finished. */
  draining?: { done: Promise<void>; release: () => void; over: boolean };
  /** Requests for the actor here: waiting for it, or forwarded. */
  pending: number;
  /** Requests forwarded to it now. */
  inflight: number;
  /** Open WebSocket, SSE and other long-lived exchanges. */
  longLived: number;
  lastActive: number;
  /** Its requests wait for a worker (no free worker in its pools). */
  queued: boolean;
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
      r = {
        key,
        atespace: t.atespace,
        actor: t.actor,
        version: 0,
        pending: 0,
        inflight: 0,
        longLived: 0,
        lastActive: 0,
        queued: false,
      };
    this.routes.set(key, r);
    if (this.routes.size > this.max) this.trim(r);
    return r;
  }

  /** Keep-alive connections to the route's actor (through its node's entry point if any). */
  agent(r: Route, target: Upstream): http.Agent {
    r.agent ??= new UpstreamAgent(target);
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

/** Whether a route's target is still the way to this worker (same worker, entry and token). */
export function sameTarget(t: Route["target"], w: NonNullable<RoutedActor["worker"]>): boolean {
  return (
    t?.worker === w.name &&
    t.host === w.address &&
    t.entry === w.entry &&
    t.entryToken === (w.entry ? w.entryToken : undefined)
  );
}

/** Requests are using the route: in flight, streaming, or waiting for a resume or a drain. */
export function inUse(r: Route): boolean {
  return (
    r.pending > 0 ||
    r.inflight > 0 ||
    r.longLived > 0 ||
    r.resuming !== undefined ||
    r.draining !== undefined
  );
}
