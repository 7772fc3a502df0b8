import type { IncomingHttpHeaders } from "node:http";
import { AteError, Code } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import { Activation } from "./activation.ts";
import type { ActivityReporter } from "./activity-reporter.ts";
import type { ActorView } from "./actor-view.ts";
import type { RoutedActor, RouterBackend } from "./backend.ts";
import type { RouterMetrics } from "./metrics.ts";
import { type Route, type RouteCache, sameTarget } from "./route-cache.ts";
import type { WorkerQueue } from "./worker-queue.ts";

export interface ActorLocatorOptions {
  backend: RouterBackend;
  /** See RouterOptions: queueWaitMs, maxQueue, unknownChecksPerSecond. */
  queueWaitMs?: number;
  maxQueue?: number;
  unknownChecksPerSecond?: number;
}

/** What the locator shares with its router. */
export interface ActorLocatorParts {
  view: ActorView;
  routes: RouteCache;
  queue: WorkerQueue;
  reporter: ActivityReporter;
  metrics: RouterMetrics;
  log: Logger;
}

/**
 * Where an actor runs, for the router: from the watch, or by asking the control plane,
 * resuming (or thawing) the actor once however many requests wait, and waiting (bounded)
 * in the router's queue while no worker is free.
 */
export class ActorLocator {
  private unknownChecks = { second: 0, count: 0 };
  /** When the watch last showed an actor leaving its worker (a worker freed: swaps go on). */
  private lastFreedAt = 0;

  constructor(
    private readonly o: ActorLocatorOptions,
    private readonly p: ActorLocatorParts,
  ) {}

  /** The watch shows an actor leaving its worker: a worker may be free now. */
  workerFreed(): void {
    this.lastFreedAt = Date.now();
    this.p.queue.wakeOne();
  }

  /**
   * Where the actor runs, resuming it (once, for all waiting requests) when it does not.
   * While the watch is not live a route is never trusted: each request asks. `headers`: the
   * request's, whose traceparent (if any) the activation's trace continues.
   */
  async ensure(
    r: Route,
    fresh = false,
    headers?: IncomingHttpHeaders,
  ): Promise<NonNullable<Route["target"]>> {
    const { view, metrics } = this.p;
    for (;;) {
      if (r.draining) await r.draining.done;
      if (r.target && !fresh && view.isLive && !this.frozen(r)) return r.target;
      if (!r.resuming) {
        const started = Date.now();
        const ask = fresh || !view.isLive;
        const activation = new Activation(r, headers);
        r.resuming = this.resume(r, ask, activation)
          .then(
            () => activation.end(),
            (err) => {
              activation.end(err);
              throw err;
            },
          )
          .then(() => metrics.resumed((Date.now() - started) / 1000))
          .finally(() => {
            r.resuming = undefined;
            r.queued = false;
          });
      }
      fresh = false;
      await r.resuming;
      if (r.target) return r.target;
    }
  }

  /** Finds the running actor (from the watch, or by asking) or resumes it. */
  private async resume(r: Route, ask: boolean, activation: Activation): Promise<void> {
    const { view, queue, reporter, log } = this.p;
    const wait = this.o.queueWaitMs ?? 30_000;
    const started = Date.now();
    for (;;) {
      const tried = Date.now();
      try {
        const known = ask || !view.isLive ? undefined : view.get(r.key);
        if (!known && !ask && view.isLive && view.version(r.key) === 0) this.checkUnknown(r.key);
        if (known && known.status !== "RUNNING") {
          // Another resume, or a checkpoint, is under way: its end comes through the watch.
          await view.nextChange(r.key, 1000);
          continue;
        }
        // A frozen actor is thawed by ResumeActor (concurrent requests share this one call).
        const asked = performance.now();
        const actor =
          known && !known.frozen
            ? known
            : await activation.call(!!known?.frozen, () =>
                this.o.backend.resumeActor(r.atespace, r.actor),
              );
        const answered = performance.now();
        ask = false;
        const learned = await this.learn(r, actor);
        if (actor !== known)
          log.debug("route.resume", {
            actor: r.key,
            frozen: !!known?.frozen,
            ms: Math.round(answered - asked),
            learnMs: Math.round(performance.now() - answered),
          });
        if (learned) return;
        // The watch knows newer: look there, at once when it shows the actor running (a
        // thaw's answer is overtaken by its own mark coming off).
        const newer = view.get(r.key);
        if (newer?.status !== "RUNNING" || newer.frozen) await view.nextChange(r.key, 50);
      } catch (err) {
        const e = AteError.from(err);
        if (e.code === Code.Aborted) {
          await view.nextChange(r.key, view.isLive ? 1000 : 50);
        } else if (e.code !== Code.ResourceExhausted) {
          throw e;
        } else {
          if (!r.queued) {
            if (queue.size >= (this.o.maxQueue ?? 1000))
              throw new AteError(
                Code.Unavailable,
                `actor ${r.key}: no free worker and the queue of waiting requests is full`,
              );
            r.queued = true;
            reporter.soon(); // the control plane makes room from the reports
          }
          // A request waits while workers keep being freed (swaps under oversubscription make
          // progress), failing after queueWaitMs without one, and after 10× that in any case.
          const deadline = Math.min(
            started + 10 * wait,
            Math.max(started, this.lastFreedAt) + wait,
          );
          const left = deadline - Date.now();
          if (left <= 0)
            throw new AteError(
              Code.Unavailable,
              `actor ${r.key}: no free worker after ${Math.round((Date.now() - started) / 1000)}s`,
            );
          // A worker freed while this try was under way woke no one for it: try again now.
          if (this.lastFreedAt >= tried) continue;
          // Woken when the watch shows a worker freed; while it is live, a try without that
          // finds none (each a ResumeActor call: 30 waiting actors asked ~15 times a second).
          const pollMs = view.isLive ? 3000 : 1000;
          // A worker was freed: the demand stands again only if the next try finds none.
          if (await queue.wait(left, pollMs)) r.queued = false;
        }
      }
    }
  }

  /** The watch shows the actor frozen (paused in place) since the route was learned. */
  private frozen(r: Route): boolean {
    const a = this.p.view.get(r.key);
    return !!a?.frozen && a.version > r.version;
  }

  /** A name the live watch never showed: NOT_FOUND, unless this second's checks are left. */
  private checkUnknown(key: string): void {
    const second = Math.floor(Date.now() / 1000);
    if (this.unknownChecks.second !== second) this.unknownChecks = { second, count: 0 };
    if (++this.unknownChecks.count <= (this.o.unknownChecksPerSecond ?? 50)) return;
    throw new AteError(Code.NotFound, `actor ${key} not found`);
  }

  /** Routes by a running actor; false when the watch has seen it change since. */
  private async learn(r: Route, actor: RoutedActor): Promise<boolean> {
    const { view, routes } = this.p;
    if (actor.status !== "RUNNING" || !actor.worker)
      throw new AteError(Code.Unavailable, `actor ${r.key} is ${actor.status}`);
    const { address, entry, entryToken, name } = actor.worker;
    // Only through its node's entry point, or directly to what can be a worker (never, say,
    // this host's loopback because a record named it).
    if (!entry && !this.o.backend.directAllowed(address))
      throw new AteError(
        Code.FailedPrecondition,
        `actor ${r.key}: its worker ${name} is at ${JSON.stringify(address.slice(0, 64))}, which is not an address this router connects to directly, and its node has no entry point`,
      );
    const port = await this.o.backend.actorPort(actor);
    if (view.isLive && view.version(r.key) > actor.version) return false;
    if (!sameTarget(r.target, actor.worker)) routes.unroute(r);
    r.target = {
      host: address,
      port,
      worker: name,
      ...(entry ? { entry } : {}),
      ...(entry && entryToken ? { entryToken } : {}),
    };
    r.version = actor.version;
    return true;
  }
}
