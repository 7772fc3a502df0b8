import type { ActorTemplate } from "../api/v1alpha1/index.ts";
import type { Actor } from "../records/index.ts";

/**
 * Annotation on an ActorTemplate: how long its actors stay idle before they are frozen in
 * place (a Go duration: `3s`, `500ms`, `1m30s`); "0" turns the frozen tier off for them.
 */
export const freezeAfterAnnotation = "ate.dev/freeze-after-idle";

/** Idle time before an actor is frozen, unless its template says otherwise. */
export const defaultFreezeAfterMs = 3000;

const goUnitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration (`time.ParseDuration`: `300ms`, `1.5s`, `2h45m`, `0`) in ms; undefined if not one. */
export function parseGoDuration(text: string): number | undefined {
  if (text === "0") return 0;
  if (text.length > 64 || !/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined;
  let ms = 0;
  for (const [, n, , unit] of text.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g))
    ms += Number(n) * (goUnitMs[unit as string] as number);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Templates' freeze-after times (ms) by namespace/name, where they set a valid one. */
export function templateFreezeAfter(templates: readonly ActorTemplate[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of templates) {
    const v = t.metadata.annotations?.[freezeAfterAnnotation];
    const ms = v === undefined ? undefined : parseGoDuration(v);
    if (ms !== undefined) out.set(`${t.metadata.namespace ?? "default"}/${t.metadata.name}`, ms);
  }
  return out;
}

/** What the freeze decision looks at for one actor on a worker. */
export interface FreezeCandidate {
  actor: Pick<Actor, "status" | "tier" | "transition">;
  /** A router has a request to it under way, or waiting. */
  busy: boolean;
  /** Since its last request (or since it last changed, a thaw included). */
  idleMs: number;
  /** Its template's freeze-after time; 0: never frozen. */
  freezeAfterMs: number;
  /** Its idle timeout (suspension); 0: never suspended. */
  idleTimeoutMs: number;
}

/**
 * Whether to freeze it now: RUNNING, not frozen, no operation under way, no request under
 * way, idle at least its freeze-after time, and that time comes before its idle timeout
 * (past the timeout it is suspended, which frees the worker).
 */
export function shouldFreeze(c: FreezeCandidate): boolean {
  return (
    c.freezeAfterMs > 0 &&
    (c.idleTimeoutMs === 0 || c.freezeAfterMs < c.idleTimeoutMs) &&
    c.actor.status === "RUNNING" &&
    c.actor.tier !== "frozen" &&
    !c.actor.transition &&
    !c.busy &&
    c.idleMs >= c.freezeAfterMs
  );
}

/**
 * Eviction order: frozen actors first (their sandbox is idle by definition, and a checkpoint
 * of a paused sandbox needs no thaw), then the least recently active.
 */
export function evictionOrder<T extends { frozen: boolean; lastActive: number }>(xs: T[]): T[] {
  return [...xs].sort((a, b) => Number(b.frozen) - Number(a.frozen) || a.lastActive - b.lastActive);
}

/**
 * When this controller last saw each actor's record change while not frozen (a thaw, a
 * resume): that counts as use, so an actor a request just thawed is not frozen again before
 * the router's report of that request arrives.
 */
export class ChangeTracker {
  private readonly seen = new Map<string, { version: number; at: number }>();

  /**
   * The time of the last change seen for the actor; 0 at the first look (the run's own
   * first sight counts then, see ActivityController.lastActive).
   */
  changedAt(key: string, actor: Pick<Actor, "version" | "tier">, now: number): number {
    const last = this.seen.get(key);
    if (!last) {
      this.seen.set(key, { version: actor.version, at: 0 });
      return 0;
    }
    if (last.version !== actor.version && actor.tier !== "frozen") {
      this.seen.set(key, { version: actor.version, at: now });
      return now;
    }
    if (last.version !== actor.version) last.version = actor.version;
    return last.at;
  }

  /** Forgets actors not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const k of this.seen.keys()) if (!keep.has(k)) this.seen.delete(k);
  }
}
