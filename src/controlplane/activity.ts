import { type ActorTemplate, ActorTemplateType } from "../api/v1alpha1/index.ts";
import { type Clock, systemClock } from "../clock/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";
import { goldenAtespace } from "../node/index.ts";
import { type Actor, actorKey, type Worker } from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import type { ActivityBoard, RouterReport } from "./activity-board.ts";
import {
  ChangeTracker,
  defaultFreezeAfterMs,
  evictionOrder,
  shouldFreeze,
  templateFreezeAfter,
} from "./freeze-policy.ts";

/** Annotation on an ActorTemplate: idle seconds before its actors are suspended (0 = never). */
export const idleTimeoutAnnotation = "ate.dev/idle-timeout-seconds";

/** What the activity controller asks of the control plane. */
export interface ActivityActors {
  readonly activity: ActivityBoard;
  getActor(ref: { atespace: string; name: string }): Promise<Actor>;
  suspendActor(ref: { atespace: string; name: string }): Promise<Actor>;
  /** Freezes a RUNNING actor in place (the frozen tier, see freeze.ts). */
  freezeActor(ref: { atespace: string; name: string }): Promise<Actor>;
  servingWorkers(ref: { atespace: string; name: string }): Promise<Worker[]>;
  listWorkers(): Promise<Worker[]>;
}

export interface ActivityControllerOptions {
  controlPlane: ActivityActors;
  /** For the templates' idle timeouts. */
  resources: ResourceStore;
  /** Idle time before an actor is suspended, unless its template says otherwise; 0 = never. Default 5 min. */
  idleTimeoutMs?: number;
  /** How often `run` makes a pass (sooner when a router reports waiting requests). Default 1 s. */
  intervalMs?: number;
  /** A report older than this no longer counts its requests as under way. Default 5 s. */
  staleAfterMs?: number;
  /** Routers silent this long are forgotten. Default 1 h. */
  forgetAfterMs?: number;
  /**
   * Idle time before an actor is frozen in place (ate.dev/freeze-after-idle), unless its
   * template says otherwise; 0 = the frozen tier is off. Default 3 s.
   */
  freezeAfterMs?: number;
  /** Idle suspensions under way at once. Default 4. */
  concurrency?: number;
  clock?: Clock;
  logger?: Logger;
}

export const activityDefaults = {
  idleTimeoutMs: 300_000,
  freezeAfterMs: defaultFreezeAfterMs,
  intervalMs: 1000,
  staleAfterMs: 5000,
  forgetAfterMs: 3_600_000,
  concurrency: 4,
};

/** How long after an eviction a report saying requests still wait counts as new demand. */
const settleMs = 250;

/** Every router's reports, per actor. */
interface Activity {
  /** A fresh report has requests to it under way, or waiting for it. */
  busy: boolean;
  /** Each router's last request to it (control plane time), when that report arrived, and the version it routed by. */
  seen: { receivedAt: number; lastActiveAt: number; version: number }[];
  /** Requests waiting for a worker for it (fresh reports). */
  waiting: number;
  /** When the latest fresh report saying so arrived. */
  waitingSince: number;
}

/**
 * Idle suspension and LRU eviction, decided once, by the control plane that leads, from every
 * router's reports (ActivityBoard): an actor is busy when any router has a request to it under
 * way, and last active at the latest request any router saw during its current run. An actor
 * idle past its template's timeout (ate.dev/idle-timeout-seconds) is suspended; when routers
 * report requests waiting for a worker, the least recently active idle actor on a worker that
 * could serve them is suspended. A run is known from when this controller first sees it (so a
 * new leader starts counting afresh, and a report from before a run never counts for it); a
 * run no router has reported a request for counts as active since then — a resume is use, so
 * one just resumed is never taken first. Before its idle timeout, an idle actor is frozen in
 * place (ate.dev/freeze-after-idle, see freeze.ts); eviction takes frozen actors first.
 * Golden actors are never touched. Leader only.
 */
export class ActivityController {
  private readonly o: Required<Omit<ActivityControllerOptions, "controlPlane" | "resources">>;
  private readonly board: ActivityBoard;
  /** Each actor's current run (by actor, worker and its version): when first seen, at which version. */
  private readonly runs = new Map<string, { since: number; version: number }>();
  private readonly suspending = new Set<string>();
  /** Freezes under way (the frozen tier). */
  private readonly freezing = new Set<string>();
  private readonly changes = new ChangeTracker();
  private readonly work = new Set<Promise<unknown>>();
  /** When the last eviction made for an actor's waiting requests finished. */
  private readonly evictedFor = new Map<string, number>();
  private readonly evictingFor = new Set<string>();
  private lastForget = 0;

  constructor(private readonly opts: ActivityControllerOptions) {
    this.o = {
      ...activityDefaults,
      clock: systemClock,
      logger: silentLogger,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    } as typeof this.o;
    this.board = opts.controlPlane.activity;
  }

  /**
   * Passes every intervalMs (at once when a report here has waiting requests) until the
   * signal aborts; resolves when the suspensions it started are over.
   */
  async run({ signal }: { signal: AbortSignal }): Promise<void> {
    let wake = () => {};
    const off = this.board.onReport((r) => {
      if (r.actors.some((a) => a.waiting > 0)) wake();
    });
    try {
      while (!signal.aborted) {
        await this.pass().catch((err) =>
          this.o.logger.warn("activity pass failed", { error: String(err) }),
        );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, this.o.intervalMs);
          function done() {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            resolve();
          }
          wake = done;
          signal.addEventListener("abort", done, { once: true });
        });
      }
    } finally {
      off();
      while (this.work.size) await Promise.allSettled([...this.work]);
    }
  }

  /** One look at every router's reports: suspends idle actors, makes room for waiting requests. */
  async pass(): Promise<void> {
    const now = this.o.clock.now().getTime();
    const activity = this.aggregate(await this.board.reports(), now);
    await this.suspendIdle(activity, now);
    // Each eviction takes another idle running actor: starting more than there are only
    // fails (every one reads the records to find none), at ~15 a second under oversubscription.
    let room = [...activity.values()].some((a) => a.waiting > 0)
      ? await this.evictable(activity)
      : 0;
    for (const [key, a] of activity) {
      // Again only when a report that arrived a moment after the last eviction for it still
      // says so: the freed worker may not have been taken yet when an earlier one was sent.
      const evicted = this.evictedFor.get(key);
      if (a.waiting === 0 || (evicted !== undefined && a.waitingSince <= evicted + settleMs))
        continue;
      // Several at once (each picks another victim): one at a time, a pool of N workers
      // swapped at most one actor per checkpoint time, not N.
      if (this.evictingFor.has(key) || this.evictingFor.size >= this.o.concurrency) continue;
      if (room-- <= 0) break;
      const [atespace = "", actorId = ""] = key.split("/");
      this.evictingFor.add(key);
      this.track(this.evictFor(atespace, actorId).finally(() => this.evictingFor.delete(key)));
    }
    if (now - this.lastForget > 60_000) {
      this.lastForget = now;
      await this.board.forget(now - this.o.forgetAfterMs);
    }
  }

  /**
   * Makes room for an actor whose pools are full: suspends (state kept) the least recently
   * active idle actor on a worker that could serve it, one that no other eviction or idle
   * suspension is taking; false when no actor qualifies or the suspend failed.
   */
  async evictFor(atespace: string, actorId: string): Promise<boolean> {
    const waiting = actorKey(atespace, actorId);
    const now = this.o.clock.now().getTime();
    try {
      const activity = this.aggregate(await this.board.reports(), now);
      const candidates: { key: string; lastActive: number; frozen: boolean }[] = [];
      for (const w of await this.opts.controlPlane.servingWorkers({ atespace, name: actorId })) {
        if (!w.actor || w.actor.atespace === goldenAtespace) continue;
        const key = actorKey(w.actor.atespace, w.actor.actorId);
        if (key === waiting || this.suspending.has(key) || activity.get(key)?.busy) continue;
        const actor = await this.opts.controlPlane
          .getActor({ atespace: w.actor.atespace, name: w.actor.actorId })
          .catch(() => undefined);
        // Mid-transition (resuming, say): its suspend would only be refused (ABORTED).
        if (actor && actor.status !== "RUNNING") continue;
        const frozen = actor?.tier === "frozen";
        const lastActive = await this.lastActive(w, activity.get(key), now);
        candidates.push({ key, lastActive, frozen });
      }
      // Frozen ones first, then the least recently active; one that went mid-transition since
      // is passed over.
      for (const victim of evictionOrder(candidates).slice(0, 5)) {
        this.o.logger.info("suspending the least recently active actor to make room", {
          actor: victim.key,
          for: waiting,
        });
        if (await this.suspend(victim.key)) return true;
      }
      this.o.logger.debug("no idle actor to suspend to make room", { for: waiting });
      return false;
    } catch (err) {
      this.o.logger.warn("eviction failed", { for: waiting, error: String(err) });
      return false;
    } finally {
      this.evictedFor.set(waiting, this.o.clock.now().getTime());
    }
  }

  /**
   * How many actors an eviction could take now: RUNNING on a worker, idle in every router's
   * reports, not being suspended. A record that cannot be read counts (evictFor decides).
   */
  private async evictable(activity: Map<string, Activity>): Promise<number> {
    let n = 0;
    for (const w of await this.opts.controlPlane.listWorkers()) {
      if (!w.actor || w.actor.atespace === goldenAtespace) continue;
      const key = actorKey(w.actor.atespace, w.actor.actorId);
      if (this.suspending.has(key) || activity.get(key)?.busy) continue;
      const actor = await this.opts.controlPlane
        .getActor({ atespace: w.actor.atespace, name: w.actor.actorId })
        .catch(() => undefined);
      if (!actor || actor.status === "RUNNING") n++;
    }
    return n;
  }

  private async suspendIdle(activity: Map<string, Activity>, now: number): Promise<void> {
    const workers = await this.opts.controlPlane.listWorkers();
    const templates = (await this.opts.resources.list(ActorTemplateType)).items;
    const timeouts = this.templateTimeouts(templates);
    const freezeAfter = templateFreezeAfter(templates);
    const seen = new Set<string>();
    const actors = new Set<string>();
    for (const w of workers) {
      if (!w.actor || w.actor.atespace === goldenAtespace) continue;
      seen.add(runKey(w));
      const key = actorKey(w.actor.atespace, w.actor.actorId);
      const timeout =
        timeouts.get(`${w.actor.templateNamespace}/${w.actor.templateName}`) ??
        this.o.idleTimeoutMs;
      const a = activity.get(key);
      const lastActive = await this.lastActive(w, a, now);
      actors.add(key);
      if (timeout === 0 || a?.busy || this.suspending.has(key) || now - lastActive < timeout) {
        const after =
          freezeAfter.get(`${w.actor.templateNamespace}/${w.actor.templateName}`) ??
          this.o.freezeAfterMs;
        await this.maybeFreeze(w, key, a, now - lastActive, after, timeout, now);
        continue;
      }
      if (this.suspending.size >= this.o.concurrency) continue; // the next pass takes it
      this.o.logger.info("suspending idle actor", { actor: key, idleMs: now - lastActive });
      this.track(this.suspend(key));
    }
    for (const k of this.runs.keys()) if (!seen.has(k)) this.runs.delete(k);
    this.changes.retain(actors);
  }

  /** Freezes the actor in place when it has been idle long enough (see shouldFreeze). */
  private async maybeFreeze(
    w: Worker,
    key: string,
    a: Activity | undefined,
    idleMs: number,
    freezeAfterMs: number,
    idleTimeoutMs: number,
    now: number,
  ): Promise<void> {
    // The record is read only for actors the reports already call idle long enough.
    if (freezeAfterMs === 0 || a?.busy || idleMs < freezeAfterMs) return;
    if (this.freezing.has(key) || this.suspending.has(key)) return;
    const ref = w.actor as NonNullable<Worker["actor"]>;
    const actor = await this.opts.controlPlane
      .getActor({ atespace: ref.atespace, name: ref.actorId })
      .catch(() => undefined);
    if (!actor || actor.worker?.name !== w.name) return;
    // A change seen since (a thaw: a request came) counts as use.
    const idle = Math.min(idleMs, now - this.changes.changedAt(key, actor, now));
    const candidate = { actor, busy: !!a?.busy, idleMs: idle, freezeAfterMs, idleTimeoutMs };
    if (!shouldFreeze(candidate)) return;
    this.freezing.add(key);
    this.track(
      this.opts.controlPlane
        .freezeActor({ atespace: ref.atespace, name: ref.actorId })
        .catch((err) => {
          if (!isAteError(err, Code.Aborted) && !isAteError(err, Code.FailedPrecondition))
            this.o.logger.warn("freezing an actor failed", { actor: key, error: String(err) });
        })
        .finally(() => this.freezing.delete(key)),
    );
  }

  /** Suspends an actor (false when it failed, moved on meanwhile or is being suspended). */
  private async suspend(key: string): Promise<boolean> {
    const [atespace = "", name = ""] = key.split("/");
    if (this.suspending.has(key)) return false; // another eviction took it meanwhile
    this.suspending.add(key);
    try {
      await this.opts.controlPlane.suspendActor({ atespace, name });
      return true;
    } catch (err) {
      // ABORTED / FAILED_PRECONDITION: it is mid-transition or no longer running.
      if (!isAteError(err, Code.Aborted) && !isAteError(err, Code.FailedPrecondition))
        this.o.logger.warn("suspending an actor failed", { actor: key, error: String(err) });
      return false;
    } finally {
      this.suspending.delete(key);
    }
  }

  /**
   * The latest request any router reported for the actor's current run; without one, when
   * this controller first saw the run. A report counts for the run when it routed by a version
   * of the run (at least the one first seen), or arrived after the run was first seen: never
   * one about an earlier run of the actor.
   */
  private async lastActive(w: Worker, a: Activity | undefined, now: number): Promise<number> {
    const key = runKey(w);
    let run = this.runs.get(key);
    if (!run) {
      const ref = w.actor as NonNullable<Worker["actor"]>;
      const actor = await this.opts.controlPlane
        .getActor({ atespace: ref.atespace, name: ref.actorId })
        .catch(() => undefined);
      run = { since: now, version: actor?.version ?? Number.MAX_SAFE_INTEGER };
      this.runs.set(key, run);
    }
    let last: number | undefined;
    for (const s of a?.seen ?? []) {
      const ofThisRun = s.version >= run.version || s.receivedAt >= run.since;
      if (ofThisRun && (last === undefined || s.lastActiveAt > last)) last = s.lastActiveAt;
    }
    return last ?? run.since;
  }

  private aggregate(reports: RouterReport[], now: number): Map<string, Activity> {
    const out = new Map<string, Activity>();
    for (const r of reports) {
      const fresh = now - r.receivedAt <= this.o.staleAfterMs;
      for (const e of r.actors) {
        const a = out.get(e.key) ?? { busy: false, seen: [], waiting: 0, waitingSince: 0 };
        out.set(e.key, a);
        // Requests waiting for it are about to be forwarded once it runs: busy too.
        if (fresh && (e.inFlight > 0 || e.waiting > 0)) a.busy = true;
        if (fresh && e.waiting > 0) {
          a.waiting += e.waiting;
          a.waitingSince = Math.max(a.waitingSince, r.receivedAt);
        }
        if (e.lastActiveAt !== undefined)
          a.seen.push({
            receivedAt: r.receivedAt,
            lastActiveAt: e.lastActiveAt,
            version: e.version,
          });
      }
    }
    return out;
  }

  /** Templates' idle timeouts (ms) by namespace/name, where they set one. */
  private templateTimeouts(templates: readonly ActorTemplate[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const t of templates) {
      const v = t.metadata.annotations?.[idleTimeoutAnnotation];
      if (v !== undefined && /^\d{1,9}$/.test(v))
        out.set(`${t.metadata.namespace ?? "default"}/${t.metadata.name}`, Number(v) * 1000);
    }
    return out;
  }

  private track(p: Promise<unknown>): void {
    this.work.add(p);
    void p.finally(() => this.work.delete(p));
  }
}

/** One run of an actor on a worker: a new claim bumps the worker's version. */
const runKey = (w: Worker) =>
  `${w.actor?.atespace}/${w.actor?.actorId}|${w.namespace}/${w.name}|${w.version}`;
