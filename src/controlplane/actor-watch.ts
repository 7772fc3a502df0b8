import type { Actor, RecordChange, Records } from "../records/index.ts";

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
