import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { matchesSelector, parseSelector } from "../api/labels/index.ts";
import type { Resource, ResourceType } from "../api/schema/index.ts";
import type { Clock } from "../clock/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { alreadyExists, conflict, notFound, parseWatchVersion, tooOld } from "./object-errors.ts";
import { nsFor, ObjectStore, type WriteExpectation, watchWants } from "./object-store.ts";
import type {
  ListOptions,
  ResourceList,
  WatchEvent,
  WatchEventType,
  WatchOptions,
} from "./store.ts";

export interface RedisResourceStoreOptions {
  /** redis://host:port[/db] or rediss://…; Valkey speaks the same protocol. */
  url: string;
  /**
   * Key prefix, so several installations can share a server. Default "ate-resources" (not
   * "ate:", whose keys the records store's DebugClear removes).
   */
  prefix?: string;
  clock?: Clock;
  /** Change events kept for watches that resume from an older version (approximately). Default 10000. */
  eventRetention?: number;
  /** How long one blocking read of the event stream waits before it asks again. Default 5000 ms. */
  watchBlockMs?: number;
}

/**
 * Checks the expectation, then takes the next resourceVersion, appends the event and writes
 * the object, atomically (a script runs alone). The event goes first: a script is not rolled
 * back when a later command fails, and an event without its object is harmless where the
 * opposite would hide a change from watchers. The body arrives split around its
 * resourceVersion, which only the script knows.
 * KEYS: objects hash, versions hash, version counter, event stream.
 * ARGV: field, expected version ("" = must not exist), delete ("1"), body before the version,
 * body after it, event type, kind, namespace, stream length.
 */
const writeScript = `
local current = redis.call('HGET', KEYS[2], ARGV[1])
if ARGV[2] == '' then
  if current then return {'exists', 0} end
elseif not current then return {'missing', 0}
elseif current ~= ARGV[2] then return {'conflict', 0} end
local rv = redis.call('INCR', KEYS[3])
local body = ARGV[4] .. rv .. ARGV[5]
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[9], rv .. '-0',
  't', ARGV[6], 'k', ARGV[7], 'n', ARGV[8], 'b', body)
if ARGV[3] == '1' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], body)
  redis.call('HSET', KEYS[2], ARGV[1], rv)
end
return {'ok', rv}
`;

type WriteScript = (
  ...args: (string | number)[]
) => Promise<["ok" | "exists" | "missing" | "conflict", number]>;

type StreamReply = [string, [string, string[]][]][] | null;

/**
 * Resources in Redis/Valkey, so several control planes share one truth. Objects live in a
 * hash per kind (field `namespace NUL name`, which sorts as (namespace, name)), their
 * versions in a second hash; every write takes the next number of one counter as its
 * resourceVersion and appends its event to one stream whose entry ids are those numbers, so
 * every watcher, on any process, reads every change in order, and a gap in the ids means the
 * stream was trimmed past the watcher (OUT_OF_RANGE).
 */
export class RedisResourceStore extends ObjectStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly retention: number;
  private readonly blockMs: number;
  /** Each watch blocks on its own connection; closed when its signal aborts or the store closes. */
  private readonly watchConnections = new Set<Redis>();
  private closed = false;

  constructor(options: RedisResourceStoreOptions) {
    super(options.clock);
    this.prefix = options.prefix ?? "ate-resources";
    this.retention = options.eventRetention ?? 10000;
    this.blockMs = options.watchBlockMs ?? 5000;
    this.redis = new Redis(options.url, { maxRetriesPerRequest: 3, enableOfflineQueue: true });
    this.redis.on("error", () => {}); // surfaced per command
    this.redis.defineCommand("ateResourceWrite", { numberOfKeys: 4, lua: writeScript });
  }

  async get<Spec, Status>(
    type: ResourceType<Spec, Status>,
    namespace: string | undefined,
    name: string,
  ): Promise<Resource<Spec, Status>> {
    const body = await this.call(() =>
      this.redis.hget(this.key("objects", type.kind), field(nsFor(type, namespace), name)),
    );
    if (!body) throw notFound(type, name);
    return JSON.parse(body) as Resource<Spec, Status>;
  }

  async list<Spec, Status>(
    type: ResourceType<Spec, Status>,
    options: ListOptions = {},
  ): Promise<ResourceList<Resource<Spec, Status>>> {
    const selector = options.labelSelector ? parseSelector(options.labelSelector) : undefined;
    // One transaction: the objects and the version they are at.
    const replies = await this.call(() =>
      this.redis.multi().hgetall(this.key("objects", type.kind)).get(this.key("rv")).exec(),
    );
    const [[objectsErr, objects], [rvErr, rv]] = replies as [
      [Error | null, Record<string, string>],
      [Error | null, string | null],
    ];
    if (objectsErr || rvErr) throw unavailable((objectsErr ?? rvErr) as Error);
    const inNamespace =
      type.scope === "Namespaced" && options.namespace !== undefined
        ? `${options.namespace}\0`
        : "";
    const items = Object.keys(objects)
      .filter((f) => f.startsWith(inNamespace))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((f) => JSON.parse(objects[f] as string) as Resource<Spec, Status>)
      .filter((o) => matchesSelector(selector, o.metadata.labels));
    return { items, resourceVersion: rv ?? "0" };
  }

  async *watch(options: WatchOptions): AsyncIterable<WatchEvent> {
    const { signal } = options;
    const start = options.resourceVersion ? parseWatchVersion(options.resourceVersion) : undefined;
    const current = Number((await this.call(() => this.redis.get(this.key("rv")))) ?? 0);
    let after = start ?? current;
    if (signal?.aborted || this.closed) return;
    const conn = this.redis.duplicate();
    conn.on("error", () => {}); // surfaced by the read
    this.watchConnections.add(conn);
    const hangUp = () => conn.disconnect();
    signal?.addEventListener("abort", hangUp, { once: true });
    try {
      for (let first = true; !signal?.aborted && !this.closed; first = false) {
        // The first read does not block: it tells at once whether the stream still holds
        // everything after `after`.
        const reply = (await (first
          ? conn.xread("COUNT", 500, "STREAMS", this.key("events"), `${after}-0`)
          : conn.xread(
              "COUNT",
              500,
              "BLOCK",
              this.blockMs,
              "STREAMS",
              this.key("events"),
              `${after}-0`,
            ))) as StreamReply;
        const entries = reply?.[0]?.[1] ?? [];
        if (first && entries.length === 0 && after < current) throw tooOld(after, current);
        for (const [id, fields] of entries) {
          const rv = Number(id.slice(0, id.indexOf("-")));
          if (rv !== after + 1) throw tooOld(after, rv - 1);
          after = rv;
          const event = fromFields(fields);
          if (!watchWants(options, event.kind, event.namespace)) continue;
          yield { type: event.type, object: JSON.parse(event.body) as Resource };
          if (signal?.aborted) return;
        }
      }
    } catch (err) {
      if (signal?.aborted || this.closed) return;
      if (isAteError(err)) throw err;
      throw unavailable(err as Error);
    } finally {
      signal?.removeEventListener("abort", hangUp);
      this.watchConnections.delete(conn);
      conn.disconnect();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const conn of this.watchConnections) conn.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  protected async write(
    type: ResourceType,
    eventType: WatchEventType,
    object: Resource,
    expect: WriteExpectation,
  ): Promise<Resource> {
    const namespace = nsFor(type, object.metadata.namespace);
    const name = object.metadata.name;
    const [before, after] = splitAtVersion(object);
    const write = (this.redis as unknown as { ateResourceWrite: WriteScript }).ateResourceWrite;
    const [outcome, rv] = await this.call(() =>
      write.call(
        this.redis,
        this.key("objects", type.kind),
        this.key("versions", type.kind),
        this.key("rv"),
        this.key("events"),
        field(namespace, name),
        "absent" in expect ? "" : expect.version,
        eventType === "DELETED" ? "1" : "0",
        before,
        after,
        eventType,
        type.kind,
        namespace,
        this.retention,
      ),
    );
    if (outcome === "exists") throw alreadyExists(type, name);
    if (outcome === "missing") throw notFound(type, name);
    if (outcome === "conflict") throw conflict(type, name);
    return { ...object, metadata: { ...object.metadata, resourceVersion: String(rv) } };
  }

  private key(...parts: string[]): string {
    return [this.prefix, ...parts].join(":");
  }

  private async call<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw unavailable(err as Error);
    }
  }
}

/** Names and namespaces never hold NUL (they are validated), so this field is unambiguous. */
const field = (namespace: string, name: string) => `${namespace}\0${name}`;

/**
 * The object's JSON in two pieces around its resourceVersion's value, for the write script
 * to join around the number it takes. The marker is fresh, so it cannot occur in the object.
 */
function splitAtVersion(object: Resource): [string, string] {
  const marker = `rv-${randomUUID()}`;
  const body = JSON.stringify({
    ...object,
    metadata: { ...object.metadata, resourceVersion: marker },
  });
  const at = body.indexOf(marker);
  return [body.slice(0, at), body.slice(at + marker.length)];
}

function fromFields(fields: string[]): {
  type: WatchEventType;
  kind: string;
  namespace: string;
  body: string;
} {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i] as string] = fields[i + 1] as string;
  return { type: f.t as WatchEventType, kind: f.k ?? "", namespace: f.n ?? "", body: f.b ?? "{}" };
}

function unavailable(err: Error): AteError {
  return new AteError(
    Code.Unavailable,
    `resource store (redis): ${err.message}; check that the Redis/Valkey server is up and reachable`,
    [],
    { cause: err },
  );
}
