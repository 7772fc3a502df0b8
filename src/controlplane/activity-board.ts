import { EventEmitter } from "node:events";
import type { Clock } from "../clock/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { type Actor, actorKey, checkLabel, type RecordStore } from "../records/index.ts";

/** One actor in a router's report, as the control plane keeps it. */
export interface ActorActivity {
  /** `<atespace>/<actor>`. */
  key: string;
  /** Requests and streams under way now. */
  inFlight: number;
  /** Control plane time (epoch ms) of its last request at this router; absent: none yet. */
  lastActiveAt?: number;
  /** The actor version the router forwards by without asking (0: it asks first). */
  version: number;
  /** Requests waiting for a worker for it. */
  waiting: number;
}

/** A router's latest report. */
export interface RouterReport {
  routerId: string;
  sequence: number;
  /** When a control plane received it (that control plane's clock, epoch ms). */
  receivedAt: number;
  actors: ActorActivity[];
}

/** A report as it comes from the wire, before it is checked. */
export interface IncomingReport {
  routerId: string;
  sequence: number;
  /** The router stops: forget it. */
  final?: boolean;
  actors: {
    atespace: string;
    name: string;
    inFlight: number;
    idleMillis?: number;
    version: number;
    waiting: number;
  }[];
}

export const reportLimits = {
  /** Actors in one report (a router's routes are bounded too: RouterOptions.maxRoutes). */
  actors: 20_000,
  /** Routers whose reports are kept at once. */
  routers: 1000,
  count: 1_000_000,
};

/**
 * Every router's latest activity report. Each report is kept in memory where it arrives (so
 * this control plane reacts at once) and in the records store (kind "activity", one record
 * per router, replaced by each report), so whichever control plane leads decides from every
 * router's reports, whichever control plane they reached. A report's times are turned into
 * this control plane's clock on arrival (a router sends "idle for N ms", never a timestamp);
 * control planes sharing a store are assumed to have clocks within a second or so of each
 * other (NTP), as the lease assumes.
 */
export class ActivityBoard {
  private readonly received = new Map<string, RouterReport>();
  private readonly events = new EventEmitter();

  constructor(
    private readonly store: RecordStore,
    private readonly clock: Clock,
  ) {
    this.events.setMaxListeners(0);
  }

  /** Checks and keeps a router's report. */
  async report(r: IncomingReport): Promise<void> {
    const report = this.check(r);
    const before = this.received.get(report.routerId);
    if (before && before.sequence >= report.sequence) return; // an older one, late
    if (r.final) {
      this.received.delete(report.routerId);
      this.events.emit("report", report);
      await this.remove(report.routerId, () => true);
      return;
    }
    this.received.set(report.routerId, report);
    this.events.emit("report", report);
    await this.persist(report);
  }

  /** Every router's latest report: this control plane's and those the store holds. */
  async reports(): Promise<RouterReport[]> {
    const all = new Map(this.received);
    let after: string | undefined;
    for (;;) {
      const page = await this.store.list("activity", {
        limit: 1000,
        ...(after !== undefined ? { after } : {}),
      });
      for (const item of page.items) {
        const r = item as unknown as RouterReport;
        const mine = all.get(r.routerId);
        if (!mine || r.sequence > mine.sequence) all.set(r.routerId, r);
      }
      if (!page.last) break;
      after = page.last;
    }
    return [...all.values()];
  }

  /** Calls `f` with each report as it arrives here, until the returned function is called. */
  onReport(f: (r: RouterReport) => void): () => void {
    this.events.on("report", f);
    return () => this.events.off("report", f);
  }

  /**
   * Once `actor` is marked SUSPENDING or PAUSING: waits until every router that reports has
   * reported since (routers report at once when they see such a mark, and again when its
   * requests are done) that it forwards nothing to the actor and will not without asking —
   * or went silent (`staleAfterMs`), or `timeoutMs` passed. True when all drained; never fails.
   */
  async drain(actor: Actor, o: { timeoutMs: number; staleAfterMs: number }): Promise<boolean> {
    const deadline = Date.now() + o.timeoutMs; // real time: how long a checkpoint waits
    const fresh = (r: RouterReport) => this.clock.now().getTime() - r.receivedAt <= o.staleAfterMs;
    const reports = async () => new Map((await this.reports()).map((r) => [r.routerId, r]));
    try {
      const baseline = [...(await reports()).values()].filter(fresh);
      for (;;) {
        const now = await reports();
        const pending = baseline.filter((b) => {
          const r = now.get(b.routerId);
          return r && fresh(r) && !(r.sequence > b.sequence && drainedAt(r, actor));
        });
        if (!pending.length) return true;
        const left = deadline - Date.now();
        if (left <= 0) return false;
        await this.nextReport(Math.min(left, 100));
      }
    } catch {
      return false; // the store cannot answer: the checkpoint goes ahead as before routers
    }
  }

  /** Resolves at the next report here, or after `ms` (reports may reach another control plane). */
  private nextReport(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.events.off("report", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.events.on("report", done);
    });
  }

  /** Forgets routers silent since `before` (epoch ms), here and in the store. */
  async forget(before: number): Promise<void> {
    for (const r of await this.reports()) {
      if (r.receivedAt >= before) continue;
      this.received.delete(r.routerId);
      await this.remove(r.routerId, (stored) => stored.receivedAt < before);
    }
  }

  /** Deletes a router's stored report if `when` holds for it (and it did not change meanwhile). */
  private async remove(routerId: string, when: (r: RouterReport) => boolean): Promise<void> {
    const stored = await this.store.get("activity", routerId);
    if (!stored || !when(stored as unknown as RouterReport)) return;
    await this.store
      .commit([{ kind: "activity", key: routerId, expectVersion: stored.version as number }])
      .catch((err) => {
        if (!isAteError(err, Code.Aborted) && !isAteError(err, Code.NotFound)) throw err;
      });
  }

  private check(r: IncomingReport): RouterReport {
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(r.routerId))
      throw new AteError(
        Code.InvalidArgument,
        `router_id: Invalid value: ${JSON.stringify(r.routerId.slice(0, 140))}: 1 to 128 of A-Z a-z 0-9 . _ -`,
      );
    if (!Number.isSafeInteger(r.sequence) || r.sequence < 0)
      throw new AteError(
        Code.InvalidArgument,
        `sequence: Invalid value: ${r.sequence}: must be 0 or more`,
      );
    if (r.actors.length > reportLimits.actors)
      throw new AteError(
        Code.InvalidArgument,
        `actors: Too many: ${r.actors.length}: must have at most ${reportLimits.actors} items; report the routes in use first`,
      );
    const now = this.clock.now().getTime();
    const count = (field: string, n: number) => {
      if (!Number.isSafeInteger(n) || n < 0 || n > reportLimits.count)
        throw new AteError(
          Code.InvalidArgument,
          `${field}: Invalid value: ${n}: must be 0 to ${reportLimits.count}`,
        );
      return n;
    };
    const actors = r.actors.map((a, i): ActorActivity => {
      checkLabel(`actors[${i}].actor_ref.atespace`, a.atespace);
      checkLabel(`actors[${i}].actor_ref.name`, a.name);
      if (a.idleMillis !== undefined && (!Number.isSafeInteger(a.idleMillis) || a.idleMillis < 0))
        throw new AteError(
          Code.InvalidArgument,
          `actors[${i}].idle_millis: Invalid value: ${a.idleMillis}: must be 0 or more`,
        );
      if (!Number.isSafeInteger(a.version) || a.version < 0)
        throw new AteError(
          Code.InvalidArgument,
          `actors[${i}].version: Invalid value: ${a.version}: must be 0 or more`,
        );
      return {
        key: actorKey(a.atespace, a.name),
        inFlight: count(`actors[${i}].in_flight`, a.inFlight),
        ...(a.idleMillis !== undefined ? { lastActiveAt: now - a.idleMillis } : {}),
        version: a.version,
        waiting: count(`actors[${i}].waiting`, a.waiting),
      };
    });
    return { routerId: r.routerId, sequence: r.sequence, receivedAt: now, actors };
  }

  /** The router's record replaced, unless a newer report of it is there already. */
  private async persist(report: RouterReport): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const stored = await this.store.get("activity", report.routerId);
      if (stored && (stored as unknown as RouterReport).sequence >= report.sequence) return;
      if (!stored && (await this.store.count("activity")) >= reportLimits.routers)
        throw new AteError(
          Code.ResourceExhausted,
          `reports of ${reportLimits.routers} routers are kept already; a router silent for an hour is forgotten`,
        );
      const { version: _v, ...value } = report as RouterReport & { version?: number };
      try {
        await this.store.commit([
          {
            kind: "activity",
            key: report.routerId,
            expectVersion: (stored?.version as number | undefined) ?? 0,
            value: { ...value },
          },
        ]);
        return;
      } catch (err) {
        // Another control plane stored a report of the same router meanwhile: look again.
        if (!isAteError(err, Code.Aborted) && !isAteError(err, Code.AlreadyExists)) throw err;
      }
    }
  }
}

/** Whether a report's entry lets a checkpoint of `actor` (just marked) go ahead. */
export function drainedAt(report: RouterReport, actor: Actor): boolean {
  const key = actorKey(actor.atespace, actor.actorId);
  const entry = report.actors.find((a) => a.key === key);
  if (!entry) return true; // no route: it asks (and learns of the mark) before forwarding
  return entry.inFlight === 0 && (entry.version === 0 || entry.version >= actor.version);
}
