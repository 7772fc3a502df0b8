import { AteError, Code } from "../errors/index.ts";
import type { Actor, RecordChange, Records } from "../records/index.ts";
import type { ControlCaller } from "./caller.ts";

export type ActorWatchEvent =
  /** The actor as it is now; `cursor` is empty on the initial list's. */
  | { type: "PUT"; actor: Actor; cursor: string }
  | { type: "DELETED"; atespace: string; actorId: string; cursor: string }
  /** Everything up to `cursor` was sent (after the initial list; then as a heartbeat). */
  | { type: "SYNCED"; cursor: string };

export interface ActorWatchOptions {
  /** Only this atespace's actors; empty: all. */
  atespace?: string;
  /** Continue after this cursor, with no list; empty: list, then follow. */
  after?: string;
  signal: AbortSignal;
  /** A SYNCED at least this often while nothing changes. Default 10 s. */
  heartbeatMs?: number;
}

const batch = 500;

/**
 * Every actor, then every change to one, in commit order, from the records store's change
 * feed — so a change made by any process sharing the store (another control plane, the
 * reconciler, a controller) reaches every watcher. The list and the feed overlap: the feed is
 * read from before the list began, and until it has caught up a change no newer than the
 * listed version of its actor is skipped, so a watcher never sees an actor go back in time.
 * OUT_OF_RANGE (from the feed) when `after`, or the watcher, fell further behind than the
 * feed keeps: watch again without a cursor.
 */
export async function* watchActors(
  records: Records,
  o: ActorWatchOptions,
): AsyncGenerator<ActorWatchEvent> {
  const feed = records.store.changes;
  const reader = feed.reader();
  const prefix = o.atespace ? `${o.atespace}/` : "";
  try {
    let cursor = o.after ?? "";
    let listed: Map<string, number> | undefined;
    if (!cursor) {
      cursor = await feed.head();
      listed = new Map();
      let pageToken = "";
      do {
        o.signal.throwIfAborted();
        const page = await records.listActors({
          pageSize: 1000,
          pageToken,
          ...(o.atespace ? { atespace: o.atespace } : {}),
        });
        for (const a of page.actors) {
          listed.set(`${a.atespace}/${a.actorId}`, a.version);
          yield { type: "PUT", actor: a, cursor: "" };
        }
        pageToken = page.nextPageToken;
      } while (pageToken);
    }
    // Catch up with what is in the feed now (answered at once), then say so.
    for (;;) {
      const changes = await reader.read(cursor, { limit: batch, signal: o.signal });
      if (!changes.length) break;
      for (const c of changes) {
        cursor = c.cursor;
        const e = toEvent(c, prefix, listed);
        if (e) yield e;
      }
    }
    yield { type: "SYNCED", cursor };
    for (;;) {
      const changes = await reader.read(cursor, {
        limit: batch,
        waitMs: o.heartbeatMs ?? 10_000,
        signal: o.signal,
      });
      if (!changes.length) yield { type: "SYNCED", cursor };
      for (const c of changes) {
        cursor = c.cursor;
        const e = toEvent(c, prefix);
        if (e) yield e;
      }
    }
  } finally {
    reader.close();
  }
}

function toEvent(
  c: RecordChange,
  prefix: string,
  listed?: Map<string, number>,
): ActorWatchEvent | undefined {
  if (c.kind !== "actor" || !c.key.startsWith(prefix)) return undefined;
  if (!c.value) {
    listed?.delete(c.key); // a new actor of that name starts again at version 1
    const [atespace = "", actorId = ""] = c.key.split("/");
    return { type: "DELETED", atespace, actorId, cursor: c.cursor };
  }
  const actor = c.value as unknown as Actor;
  const seen = listed?.get(c.key);
  if (seen !== undefined && actor.version <= seen) return undefined;
  return { type: "PUT", actor, cursor: c.cursor };
}

/** How many actor watches one control plane keeps open (see WatchSlots). */
export interface WatchLimits {
  /** In all. Default 1000. */
  total: number;
  /** Per tenant or router token. Default 16. */
  perToken: number;
  /** Of `total`, kept for routers and admins: tenants together never hold more than the rest. Default 250. */
  reserved: number;
}

export const watchLimitDefaults: WatchLimits = { total: 1000, perToken: 16, reserved: 250 };

/**
 * The open actor watches of one control plane, by caller. Each may hold a connection to the
 * records store, so they are bounded in all, per token (a router keeps one open, a few while
 * it reconnects; a tenant's clients a few), and tenants together leave `reserved` places to
 * routers and admins: no tenant can use up the watches and blind the routers. Admins have no
 * per-token bound (they may do everything anyway). RESOURCE_EXHAUSTED naming the limit.
 */
export class WatchSlots {
  private total = 0;
  private tenants = 0;
  private readonly byToken = new Map<string, number>();

  constructor(private readonly limits: WatchLimits = watchLimitDefaults) {}

  /** Takes a place for `caller`'s watch; the returned function gives it back (once). */
  acquire(caller: ControlCaller): () => void {
    const l = this.limits;
    const who = describeCaller(caller);
    const token = `${caller.role}:${caller.name}`;
    const mine = this.byToken.get(token) ?? 0;
    const tenant = caller.role === "tenant";
    if (caller.role !== "admin" && mine >= l.perToken)
      throw new AteError(
        Code.ResourceExhausted,
        `${who} has ${mine} actor watches open on this control plane already, the most one token may: close one (each watch stream holds one) and retry`,
      );
    if (tenant && this.tenants >= l.total - l.reserved)
      throw new AteError(
        Code.ResourceExhausted,
        `tenants hold ${this.tenants} actor watches on this control plane already, all they may (the other ${l.reserved} are kept for routers and admins): retry later`,
      );
    if (this.total >= l.total)
      throw new AteError(
        Code.ResourceExhausted,
        `${l.total} actor watches are open on this control plane already: retry later`,
      );
    this.total++;
    if (tenant) this.tenants++;
    this.byToken.set(token, mine + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.total--;
      if (tenant) this.tenants--;
      const left = (this.byToken.get(token) ?? 1) - 1;
      if (left > 0) this.byToken.set(token, left);
      else this.byToken.delete(token);
    };
  }
}

/** As src/auth's describePrincipal (which this folder cannot import). */
function describeCaller(c: ControlCaller): string {
  return c.role === "tenant"
    ? `token "${c.name}" (tenant of atespace ${c.atespace})`
    : `${c.role} token "${c.name}"`;
}
