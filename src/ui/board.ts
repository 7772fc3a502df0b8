import type { Actor, Worker } from "../records/index.ts";

/** One actor as the dashboard shows it: only what a viewer needs, never tokens or settings. */
export interface BoardActor {
  atespace: string;
  actorId: string;
  template: string;
  status: string;
  /** The op under way (resume, suspend, pause), if any. */
  transition?: string;
  tier?: string;
  worker?: string;
  pool?: string;
  node?: string;
  snapshot?: {
    type: string;
    scope: string;
    uri: string;
    /** Epoch ms when this board saw it committed (absent: before it began). */
    seenAt?: number;
    /** From its manifest (EXTERNAL snapshots, once read): when it was taken, and its bytes. */
    createdAt?: number;
    bytes?: number;
  };
  /** Epoch ms of its last request at any router (activity reports). */
  lastActiveAt?: number;
  lastExit?: { reason: string; message: string; at: string };
}

/** A finished transition the board saw from start to end (or only its end: no duration). */
export interface BoardTransition {
  actor: string;
  from: string;
  to: string;
  /** Epoch ms when it ended. */
  at: number;
  durationMs?: number;
}

/** Activations (RESUMING → RUNNING) in one slice of the chart. */
export interface ActivationBucket {
  /** Epoch ms where the slice starts. */
  start: number;
  count: number;
  meanMs: number;
  maxMs: number;
}

export interface PoolSummary {
  pool: string;
  free: number;
  assigned: number;
}

const stable = new Set(["RUNNING", "SUSPENDED", "PAUSED"]);
/** How much the board remembers: enough for a screen, bounded however busy the system is. */
export const boardLimits = { transitions: 50, actors: 1000, bucketMs: 10_000, buckets: 30 };

/**
 * What one dashboard stream knows, fed by the actor watch: the actors as they are now, the
 * transitions it saw end (timed from when it saw them start), and activation counts and
 * latencies per slice of time. Per stream, in memory: a reload starts a fresh history (the
 * records keep only the present), which is what a live view needs.
 */
export class Board {
  private readonly actors = new Map<string, BoardActor>();
  /** When each actor entered its current status, as this board saw it (absent: before it began). */
  private readonly since = new Map<string, number>();
  private readonly transitions: BoardTransition[] = [];
  private readonly activations: { at: number; ms: number }[] = [];
  /** Some actors were left out (past boardLimits.actors): the page says so. */
  private truncated = false;

  constructor(private readonly now: () => number = Date.now) {}

  /** The actor as it is now; `live` false for the initial list (its history is unknown). */
  put(a: Actor, live: boolean): void {
    const key = `${a.atespace}/${a.actorId}`;
    const before = this.actors.get(key);
    const t = this.now();
    const next = project(a);
    const snap = a.latestSnapshot;
    if (snap && next.snapshot) {
      const kept = before?.snapshot?.uri === snap.uri ? before.snapshot.seenAt : undefined;
      const seenAt = kept ?? (live ? t : undefined);
      if (seenAt !== undefined) next.snapshot.seenAt = seenAt;
    }
    if (before?.lastActiveAt !== undefined) next.lastActiveAt = before.lastActiveAt;
    if (!before && this.actors.size >= boardLimits.actors) {
      this.truncated = true;
      return;
    }
    this.actors.set(key, next);
    if (before && before.status === next.status) return;
    const started = this.since.get(key);
    if (live) this.since.set(key, t);
    else this.since.delete(key);
    if (!before || !live || !stable.has(next.status)) return;
    // Timed only when this board saw the whole transition (its start status, then its end).
    const timed = started !== undefined && !stable.has(before.status);
    const ended: BoardTransition = { actor: key, from: before.status, to: next.status, at: t };
    if (timed) ended.durationMs = t - started;
    this.transitions.push(ended);
    if (this.transitions.length > boardLimits.transitions) this.transitions.shift();
    if (timed && before.status === "RESUMING" && next.status === "RUNNING")
      this.activations.push({ at: t, ms: t - started });
  }

  delete(atespace: string, actorId: string): void {
    const key = `${atespace}/${actorId}`;
    this.actors.delete(key);
    this.since.delete(key);
  }

  /** Last activity per `<atespace>/<actor>` (the newest of every router's reports). */
  activity(lastActive: Map<string, number>): void {
    for (const [key, a] of this.actors) {
      const at = lastActive.get(key);
      if (at !== undefined) a.lastActiveAt = at;
    }
  }

  view(pools?: PoolSummary[]) {
    const t = this.now();
    const first = Math.floor(t / boardLimits.bucketMs) * boardLimits.bucketMs;
    const oldest = first - (boardLimits.buckets - 1) * boardLimits.bucketMs;
    while (this.activations.length && (this.activations[0] as { at: number }).at < oldest)
      this.activations.shift();
    const buckets: ActivationBucket[] = [];
    for (let i = 0; i < boardLimits.buckets; i++) {
      const start = oldest + i * boardLimits.bucketMs;
      const inside = this.activations.filter(
        (x) => x.at >= start && x.at < start + boardLimits.bucketMs,
      );
      const total = inside.reduce((s, x) => s + x.ms, 0);
      buckets.push({
        start,
        count: inside.length,
        meanMs: inside.length ? Math.round(total / inside.length) : 0,
        maxMs: inside.reduce((m, x) => Math.max(m, x.ms), 0),
      });
    }
    return {
      now: t,
      actors: [...this.actors.values()],
      truncated: this.truncated,
      transitions: [...this.transitions].reverse(),
      activations: buckets,
      ...(pools ? { pools } : {}),
    };
  }
}

function project(a: Actor): BoardActor {
  const out: BoardActor = {
    atespace: a.atespace,
    actorId: a.actorId,
    template: `${a.templateNamespace}/${a.templateName}`,
    status: a.status,
  };
  if (a.transition) out.transition = a.transition.op;
  if (a.status === "RUNNING") out.tier = a.tier ?? "running";
  if (a.worker) {
    out.worker = a.worker.name;
    out.pool = a.worker.pool;
    out.node = a.worker.node;
  }
  const s = a.latestSnapshot;
  if (s) out.snapshot = { type: s.type, scope: s.scope, uri: s.uri };
  if (a.lastExit)
    out.lastExit = { reason: a.lastExit.reason, message: a.lastExit.message, at: a.lastExit.at };
  return out;
}

/** Free and assigned workers per pool (`<namespace>/<pool>`). */
export function poolSummaries(workers: Worker[]): PoolSummary[] {
  const pools = new Map<string, PoolSummary>();
  for (const w of workers) {
    const key = `${w.namespace}/${w.pool}`;
    const p = pools.get(key) ?? { pool: key, free: 0, assigned: 0 };
    if (w.actor) p.assigned++;
    else p.free++;
    pools.set(key, p);
  }
  return [...pools.values()].sort((a, b) => a.pool.localeCompare(b.pool));
}
