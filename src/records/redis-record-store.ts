import { Redis } from "ioredis";
import { AteError, Code } from "../errors/index.ts";
import { fedKinds, feedLength } from "./change-feed.ts";
import { conflict } from "./conflict.ts";
import { RedisChangeFeed } from "./redis-change-feed.ts";
import type { RecordKind, RecordPage, RecordStore, RecordWrite } from "./store.ts";

/**
 * Checks every expected version, then applies every write, atomically (a Lua script runs
 * alone). Records are hashes {v: version, b: body}; a sorted set per kind (all scores 0)
 * indexes keys in lexical order for listing and paging. Writes of fed kinds are appended to
 * the change feed's stream in the same step (see redis-change-feed.ts).
 * KEYS: record key, index key — per write; then the feed's stream. ARGV: key, expectVersion,
 * body ("" = delete) — per write; then the stream's bound; then per write its kind if fed, else "".
 */
const commitScript = `
local n = math.floor(#KEYS / 2)
for i = 1, n do
  local v = tonumber(redis.call('HGET', KEYS[2*i-1], 'v') or '0')
  if v ~= tonumber(ARGV[3*i-1]) then return {i, v} end
end
for i = 1, n do
  local expect = tonumber(ARGV[3*i-1])
  if ARGV[3*i] == '' then
    redis.call('DEL', KEYS[2*i-1])
    redis.call('ZREM', KEYS[2*i], ARGV[3*i-2])
  else
    redis.call('HSET', KEYS[2*i-1], 'v', expect + 1, 'b', ARGV[3*i])
    redis.call('ZADD', KEYS[2*i], 0, ARGV[3*i-2])
  end
end
for i = 1, n do
  local kind = ARGV[3*n+1+i]
  if kind ~= '' then
    local body = ''
    if ARGV[3*i] ~= '' then body = ARGV[3*i] end
    redis.call('XADD', KEYS[2*n+1], 'MAXLEN', '~', ARGV[3*n+1], '*', 'k', kind, 'key', ARGV[3*i-2], 'b', body)
  end
end
return {0, 0}
`;

export interface RedisRecordStoreOptions {
  /** redis://host:port/db */
  url: string;
  /** Key prefix, so several ate installations can share a server. Default "ate". */
  prefix?: string;
}

export class RedisRecordStore implements RecordStore {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(options: RedisRecordStoreOptions) {
    this.redis = new Redis(options.url, {
      lazyConnect: false,
      maxRetriesPerRequest: 3,
      enableOfflineQueue: true,
    });
    this.redis.on("error", () => {}); // surfaced per command
    this.prefix = options.prefix ?? "ate";
    this.redis.defineCommand("ateCommit", { lua: commitScript });
    this.changes = new RedisChangeFeed(this.redis, `${this.prefix}:changes`);
  }

  readonly changes: RedisChangeFeed;

  private recordKey(kind: RecordKind, key: string): string {
    return `${this.prefix}:${kind}:${key}`;
  }

  private indexKey(kind: RecordKind): string {
    return `${this.prefix}:index:${kind}`;
  }

  async get(kind: RecordKind, key: string): Promise<Record<string, unknown> | undefined> {
    const body = await this.call(() => this.redis.hget(this.recordKey(kind, key), "b"));
    return body ? (JSON.parse(body) as Record<string, unknown>) : undefined;
  }

  async list(
    kind: RecordKind,
    options: { prefix?: string; after?: string; limit: number },
  ): Promise<RecordPage> {
    const prefix = options.prefix ?? "";
    const min =
      options.after !== undefined && options.after >= prefix ? `(${options.after}` : `[${prefix}`;
    const keys = await this.call(() =>
      this.redis.zrangebylex(this.indexKey(kind), min, `[${prefix}\xff`, "LIMIT", 0, options.limit),
    );
    if (keys.length === 0) return { items: [] };
    const pipeline = this.redis.pipeline();
    for (const k of keys) pipeline.hget(this.recordKey(kind, k), "b");
    const bodies = (await this.call(() => pipeline.exec())) ?? [];
    const items = bodies
      .map(([, b]) => b)
      .filter((b): b is string => typeof b === "string")
      .map((b) => JSON.parse(b) as Record<string, unknown>);
    const last = keys.length === options.limit ? keys[keys.length - 1] : undefined;
    return last === undefined ? { items } : { items, last };
  }

  async count(kind: RecordKind, prefix = ""): Promise<number> {
    return this.call(() =>
      this.redis.zlexcount(this.indexKey(kind), `[${prefix}`, `[${prefix}\xff`),
    );
  }

  async commit(writes: RecordWrite[]): Promise<number[]> {
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const w of writes) {
      keys.push(this.recordKey(w.kind, w.key), this.indexKey(w.kind));
      args.push(
        w.key,
        w.expectVersion,
        w.value === undefined ? "" : JSON.stringify({ ...w.value, version: w.expectVersion + 1 }),
      );
    }
    keys.push(this.changes.streamKey);
    args.push(feedLength, ...writes.map((w) => (fedKinds.has(w.kind) ? w.kind : "")));
    const [failed, actual] = (await this.call(() =>
      (
        this.redis as unknown as {
          ateCommit(n: number, ...a: (string | number)[]): Promise<[number, number]>;
        }
      ).ateCommit(keys.length, ...keys, ...args),
    )) as [number, number];
    if (failed) throw conflict(writes[failed - 1] as RecordWrite, actual);
    return writes.map((w) => w.expectVersion + 1);
  }

  async clear(): Promise<void> {
    let cursor = "0";
    do {
      const [next, keys] = await this.call(() =>
        this.redis.scan(cursor, "MATCH", `${this.prefix}:*`, "COUNT", 1000),
      );
      // Tokens stay (DebugClear must not lock its caller out).
      const tokens = [this.indexKey("token"), this.recordKey("token", "")];
      const doomed = keys.filter((k) => k !== tokens[0] && !k.startsWith(tokens[1] as string));
      if (doomed.length) await this.call(() => this.redis.del(...doomed));
      cursor = next;
    } while (cursor !== "0");
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async call<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw new AteError(Code.Unavailable, `records store (redis): ${(err as Error).message}`, [], {
        cause: err,
      });
    }
  }
}
