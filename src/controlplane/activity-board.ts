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
  /** The token it came with (its name): a router's reports are its own. */
  principal: string;
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
  /**
   * Router ids one token's reports are kept for. A router host runs one router, whose id
   * changes at each start (host name + random); one killed without its farewell leaves its
   * report behind. Four leave room for restarts in quick succession, and a report silent for
   * the stale time gives its place to a new id; a token reporting for more (a stolen one
   * making up ids) is refused, and can never fill the board for the others.
   */
  routersPerToken: 4,
  count: 1_000_000,
};

/** Where a router's report is kept: under its token's name, so no token can touch another's. */
export const reportKey = (r: Pick<RouterReport, "principal" | "routerId">) =>
  `${r.principal}/${r.routerId}`;

/**
 * Every router's latest activity report. Each report is kept in the records store (kind
 * "activity", one record per token and router id, replaced by each report) and in memory
 * where it arrives (so this control plane reacts at once), so whichever control plane leads
 * decides from every router's reports, whichever control plane they reached. Reports are
 * keyed by the token they came with: a router token reports for its own routers only, and
 * neither a made-up router id nor a jump in sequence touches another token's reports. A report's times are turned into
 * this control plane's clock on arrival (a router sends "idle for N ms", never a timestamp);
 * control planes sharing a store are assumed to have clocks within a second or so of each
 * other (NTP), as the lease assumes.
 */
export class ActivityBoard {
  /** The reports that arrived here: token name → router id → its latest. */
  private readonly received = new Map<string, Map<string, RouterReport>>();
  private readonly events = new EventEmitter();
  private readonly staleAfterMs: number;

  constructor(
    private readonly store: RecordStore,
    private readonly clock: Clock,
    /** A report older than this no longer counts its requests as under way. Default 5 s. */
    options: { staleAfterMs?: number } = {},
  ) {
    this.staleAfterMs = options.staleAfterMs ?? 5000;
    this.events.setMaxListeners(0);
  }

  /**
   * Checks and keeps a router's report, under `principal` (the name of the token it came
   * with). RESOURCE_EXHAUSTED, with nothing kept, when the token or the board is at its limit
   * (reportLimits).
   */
  async report(r: IncomingReport, principal: string): Promise<void> {
    const report = this.check(r, principal);
    const before = this.received.get(principal)?.get(report.routerId);
    if (before && before.sequence >= report.sequence) return; // an older one, late
    if (r.final) {
      this.received.get(principal)?.delete(report.routerId);
      this.events.emit("report", report);
      await this.remove(reportKey(report), () => true);
      return;
    }
    if (!(await this.persist(report))) return;
    this.keep(report);
    this.events.emit("report", report);
  }

  /** Every router's latest report: this control plane's and those the store holds. */
  async reports(): Promise<RouterReport[]> {
    const all = new Map<string, RouterReport>();
    for (const mine of this.received.values())
      for (const r of mine.values()) all.set(reportKey(r), r);
    let after: string | undefined;
    for (;;) {
      const page = await this.store.list("activity", {
        limit: 1000,
        ...(after !== undefined ? { after } : {}),
      });
      for (const item of page.items) {
        const r = item as unknown as RouterReport;
        const mine = all.get(reportKey(r));
        if (!mine || r.sequence > mine.sequence) all.set(reportKey(r), r);
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
    const reports = async () => new Map((await this.reports()).map((r) => [reportKey(r), r]));
    try {
      const baseline = [...(await reports()).values()].filter(fresh);
      for (;;) {
        const now = await reports();
        const pending = baseline.filter((b) => {
          const r = now.get(reportKey(b));
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
      this.received.get(r.principal)?.delete(r.routerId);
      await this.remove(reportKey(r), (stored) => stored.receivedAt < before);
    }
  }

  /** Deletes a stored report if `when` holds for it (and it did not change meanwhile). */
  private async remove(key: string, when: (r: RouterReport) => boolean): Promise<void> {
    const stored = await this.store.get("activity", key);
    if (!stored || !when(stored as unknown as RouterReport)) return;
    await this.store
      .commit([{ kind: "activity", key, expectVersion: stored.version as number }])
      .catch((err) => {
        if (!isAteError(err, Code.Aborted) && !isAteError(err, Code.NotFound)) throw err;
      });
  }

  private check(r: IncomingReport, principal: string): RouterReport {
    // A token's name (a DNS label), as the API edge authenticated it: never from the report.
    if (!/^[a-z0-9-]{1,63}$/.test(principal))
      throw new AteError(
        Code.Unauthenticated,
        "an activity report needs the router token it came with: report with a router token",
      );
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
    return { principal, routerId: r.routerId, sequence: r.sequence, receivedAt: now, actors };
  }

  /**
   * Keeps a stored report in memory too, within the same limits as the store: at most
   * routersPerToken per token and `routers` in all (the least recently received go first;
   * the store still has them).
   */
  private keep(report: RouterReport): void {
    const mine = this.received.get(report.principal) ?? new Map<string, RouterReport>();
    this.received.set(report.principal, mine);
    mine.delete(report.routerId); // re-inserted last: each map is in order of arrival
    mine.set(report.routerId, report);
    for (const id of mine.keys()) {
      if (mine.size <= reportLimits.routersPerToken) break;
      mine.delete(id);
    }
    let total = 0;
    for (const m of this.received.values()) total += m.size;
    while (total > reportLimits.routers) {
      let oldest: RouterReport | undefined;
      for (const m of this.received.values())
        for (const r of m.values()) if (!oldest || r.receivedAt < oldest.receivedAt) oldest = r;
      if (!oldest) break;
      this.received.get(oldest.principal)?.delete(oldest.routerId);
      total--;
    }
    for (const [p, m] of this.received) if (!m.size) this.received.delete(p);
  }

  /**
   * Before a router id's first report is stored: room under its token (a report of the
   * token's silent for staleAfterMs gives its place) and on the board. RESOURCE_EXHAUSTED
   * naming the limit otherwise.
   */
  private async makeRoom(report: RouterReport): Promise<void> {
    const limit = reportLimits.routersPerToken;
    const page = await this.store.list("activity", {
      prefix: `${report.principal}/`,
      limit: 100,
    });
    const mine = page.items as unknown as RouterReport[];
    if (mine.length >= limit) {
      const now = this.clock.now().getTime();
      const silent = mine
        .filter((r) => now - r.receivedAt > this.staleAfterMs)
        .sort((a, b) => a.receivedAt - b.receivedAt)
        .slice(0, mine.length - limit + 1);
      if (mine.length - silent.length >= limit)
        throw new AteError(
          Code.ResourceExhausted,
          `token "${report.principal}" reports for ${mine.length} routers already (${mine.map((r) => r.routerId).join(", ")}), each heard from within ${this.staleAfterMs / 1000}s; at most ${limit} are kept per token: give each router a token of its own (ate create token NAME --router)`,
        );
      for (const old of silent) {
        this.received.get(old.principal)?.delete(old.routerId);
        await this.remove(reportKey(old), (r) => r.receivedAt === old.receivedAt);
      }
    }
    if ((await this.store.count("activity")) >= reportLimits.routers)
      throw new AteError(
        Code.ResourceExhausted,
        `reports of ${reportLimits.routers} routers are kept already; a router silent for an hour is forgotten: retry later`,
      );
  }

  /**
   * The router's record replaced, unless a newer report of it is there already (false then,
   * or when other control planes kept winning the race).
   */
  private async persist(report: RouterReport): Promise<boolean> {
    const key = reportKey(report);
    for (let attempt = 0; attempt < 5; attempt++) {
      const stored = await this.store.get("activity", key);
      if (stored && (stored as unknown as RouterReport).sequence >= report.sequence) return false;
      if (!stored) await this.makeRoom(report);
      const { version: _v, ...value } = report as RouterReport & { version?: number };
      try {
        await this.store.commit([
          {
            kind: "activity",
            key,
            expectVersion: (stored?.version as number | undefined) ?? 0,
            value: { ...value },
          },
        ]);
        return true;
      } catch (err) {
        // Another control plane stored a report of the same router meanwhile: look again.
        if (!isAteError(err, Code.Aborted) && !isAteError(err, Code.AlreadyExists)) throw err;
      }
    }
    return false;
  }
}

/** Whether a report's entry lets a checkpoint of `actor` (just marked) go ahead. */
export function drainedAt(report: RouterReport, actor: Actor): boolean {
  const key = actorKey(actor.atespace, actor.actorId);
  const entry = report.actors.find((a) => a.key === key);
  if (!entry) return true; // no route: it asks (and learns of the mark) before forwarding
  return entry.inFlight === 0 && (entry.version === 0 || entry.version >= actor.version);
}
