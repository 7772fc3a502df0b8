import type { Redis } from "ioredis";
import { AteError, Code } from "../errors/index.ts";
import {
  badCursor,
  type ChangeFeed,
  type ChangeReader,
  type ChangeReadOptions,
  outOfRange,
  type RecordChange,
} from "./change-feed.ts";
import type { RecordKind } from "./store.ts";

type Entry = [id: string, fields: string[]];

/**
 * The feed of a Redis/Valkey record store: one stream that the commit script appends to
 * (XADD, bounded by MAXLEN ~ feedLength) in the same atomic step as the records, so every
 * control plane on the store sees every change, in commit order. Cursors are stream ids.
 */
export class RedisChangeFeed implements ChangeFeed {
  constructor(
    private readonly redis: Redis,
    readonly streamKey: string,
  ) {}

  async head(): Promise<string> {
    const last = (
      await this.call(() => this.redis.xrevrange(this.streamKey, "+", "-", "COUNT", 1))
    )[0];
    return last ? last[0] : "0-0";
  }

  reader(): ChangeReader {
    // Blocking reads hold a connection: each reader has its own, made on its first wait.
    let blocking: Redis | undefined;
    return {
      read: async (after, o) => {
        if (!/^\d{1,20}-\d{1,20}$/.test(after)) throw badCursor(after);
        let entries = await this.range(after, o.limit);
        if (!entries.length && o.waitMs) {
          if (!blocking) {
            blocking = this.redis.duplicate();
            blocking.on("error", () => {}); // surfaced per command
          }
          entries = await this.blockingRead(blocking, after, o);
        }
        await this.checkKept(after);
        return entries.map(([id, fields]) => toChange(id, fields));
      },
      close: () => blocking?.disconnect(),
    };
  }

  private range(after: string, limit: number): Promise<Entry[]> {
    return this.call(
      () => this.redis.xrange(this.streamKey, `(${after}`, "+", "COUNT", limit) as Promise<Entry[]>,
    );
  }

  private async blockingRead(conn: Redis, after: string, o: ChangeReadOptions): Promise<Entry[]> {
    const abort = () => conn.disconnect();
    o.signal?.addEventListener("abort", abort, { once: true });
    try {
      const answer = (await this.call(() =>
        conn.xread("COUNT", o.limit, "BLOCK", o.waitMs ?? 0, "STREAMS", this.streamKey, after),
      )) as [string, Entry[]][] | null;
      return answer?.[0]?.[1] ?? [];
    } catch (err) {
      o.signal?.throwIfAborted();
      throw err;
    } finally {
      o.signal?.removeEventListener("abort", abort);
    }
  }

  /**
   * Whether every change after `after` is still kept. Trimming keeps no record of the ids it
   * dropped, so a cursor older than the first kept entry is refused once anything was
   * trimmed (at worst a reader lists again needlessly); a cursor beyond the last id ever
   * given is not from this stream (e.g. the store was cleared since).
   */
  private async checkKept(after: string): Promise<void> {
    const info: unknown[] = await this.call(() =>
      (this.redis.xinfo("STREAM", this.streamKey) as Promise<unknown[]>).catch((err: Error) => {
        if (/no such key/i.test(err.message)) return [] as unknown[];
        throw err;
      }),
    );
    const field = (name: string) => {
      const i = info.indexOf(name);
      return i >= 0 ? info[i + 1] : undefined;
    };
    const length = Number(field("length") ?? 0);
    const added = Number(field("entries-added") ?? 0);
    const lastId = String(field("last-generated-id") ?? "0-0");
    const first = field("first-entry") as Entry | null | undefined;
    if (compareIds(after, lastId) > 0) throw outOfRange(after);
    if (added > length && (!first || compareIds(after, first[0]) < 0)) throw outOfRange(after);
  }

  private async call<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof AteError) throw err;
      throw new AteError(
        Code.Unavailable,
        `records store (redis) feed: ${(err as Error).message}`,
        [],
        { cause: err },
      );
    }
  }
}

function toChange(id: string, fields: string[]): RecordChange {
  const get = (name: string) => {
    const i = fields.indexOf(name);
    return i >= 0 && i % 2 === 0 ? fields[i + 1] : undefined;
  };
  const body = get("b") ?? "";
  return {
    cursor: id,
    kind: (get("k") ?? "") as RecordKind,
    key: get("key") ?? "",
    ...(body ? { value: JSON.parse(body) as Record<string, unknown> } : {}),
  };
}

/** Orders stream ids `<ms>-<seq>` numerically. */
export function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split("-").map((x) => BigInt(x));
  const [bm = 0n, bs = 0n] = b.split("-").map((x) => BigInt(x));
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}
