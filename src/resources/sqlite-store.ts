import { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { matchesSelector, parseSelector } from "../api/labels/index.ts";
import type { Resource, ResourceType } from "../api/schema/index.ts";
import type { Clock } from "../clock/index.ts";
import { prepareSqliteFile } from "../private-files/index.ts";
import { StatementCache } from "../sqlite/index.ts";
import { alreadyExists, conflict, notFound, parseWatchVersion, tooOld } from "./object-errors.ts";
import { nsFor, ObjectStore, type WriteExpectation, watchWants } from "./object-store.ts";
import type {
  ListOptions,
  ResourceList,
  WatchEvent,
  WatchEventType,
  WatchOptions,
} from "./store.ts";

export interface SqliteResourceStoreOptions {
  /** Database file, or ":memory:". */
  path: string;
  clock?: Clock;
  /** How often a watch looks for changes made by other processes. Default 100 ms. */
  watchPollMs?: number;
  /** Change events kept for watches that resume from an older version. Default 10000. */
  eventRetention?: number;
}

interface EventRow {
  rv: number;
  kind: string;
  namespace: string;
  type: WatchEventType;
  body: string;
}

const schemaSql = `
CREATE TABLE IF NOT EXISTS objects (
  kind TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  resource_version INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS events (
  rv INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** The embedded resource store: Kubernetes object semantics over one SQLite file. */
export class SqliteResourceStore extends ObjectStore {
  private readonly db: Database.Database;
  private readonly pollMs: number;
  private readonly retention: number;
  /** Wakes this process's watches at once; other processes' writes are seen by polling. */
  private readonly changes = new EventEmitter().setMaxListeners(0);
  private readonly statements: StatementCache;

  constructor(options: SqliteResourceStoreOptions) {
    super(options.clock);
    prepareSqliteFile(options.path); // root only, with its -wal and -shm
    this.db = new Database(options.path);
    this.statements = new StatementCache(this.db);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(schemaSql);
    this.pollMs = options.watchPollMs ?? 100;
    this.retention = options.eventRetention ?? 10000;
  }

  async get<Spec, Status>(
    type: ResourceType<Spec, Status>,
    namespace: string | undefined,
    name: string,
  ): Promise<Resource<Spec, Status>> {
    const row = this.sql<[string, string, string], { body: string }>(
      "SELECT body FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
    ).get(type.kind, nsFor(type, namespace), name);
    if (!row) throw notFound(type, name);
    return JSON.parse(row.body) as Resource<Spec, Status>;
  }

  async list<Spec, Status>(
    type: ResourceType<Spec, Status>,
    options: ListOptions = {},
  ): Promise<ResourceList<Resource<Spec, Status>>> {
    const selector = options.labelSelector ? parseSelector(options.labelSelector) : undefined;
    const read = this.db.transaction(() => {
      const rows =
        type.scope === "Namespaced" && options.namespace !== undefined
          ? this.sql<[string, string], { body: string }>(
              "SELECT body FROM objects WHERE kind = ? AND namespace = ? ORDER BY namespace, name",
            ).all(type.kind, options.namespace)
          : this.sql<[string], { body: string }>(
              "SELECT body FROM objects WHERE kind = ? ORDER BY namespace, name",
            ).all(type.kind);
      return { rows, rv: this.currentVersion() };
    });
    const { rows, rv } = read();
    const items = rows
      .map((r) => JSON.parse(r.body) as Resource<Spec, Status>)
      .filter((o) => matchesSelector(selector, o.metadata.labels));
    return { items, resourceVersion: String(rv) };
  }

  async *watch(options: WatchOptions): AsyncIterable<WatchEvent> {
    const { signal } = options;
    let after = options.resourceVersion
      ? parseWatchVersion(options.resourceVersion)
      : this.currentVersion();
    const compacted = Number(this.metaValue("compacted_rv") ?? 0);
    if (after < compacted) throw tooOld(after, compacted);
    const kindFilter = options.type ? "AND kind = ?" : "";
    const query = this.sql<unknown[], EventRow>(
      `SELECT rv, kind, namespace, type, body FROM events WHERE rv > ? ${kindFilter} ORDER BY rv LIMIT 500`,
    );
    while (!signal?.aborted) {
      const rows = options.type ? query.all(after, options.type.kind) : query.all(after);
      for (const row of rows) {
        after = row.rv;
        if (!watchWants(options, row.kind, row.namespace)) continue;
        yield { type: row.type, object: JSON.parse(row.body) as Resource };
        if (signal?.aborted) return;
      }
      if (rows.length === 0) await this.waitForChange(signal);
    }
  }

  async close(): Promise<void> {
    this.changes.emit("change");
    this.statements.clear();
    this.db.close();
  }

  private sql<P extends unknown[] = unknown[], R = unknown>(text: string) {
    return this.statements.sql<P, R>(text);
  }

  private waitForChange(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const ac = new AbortController();
      const done = () => {
        ac.abort();
        this.changes.off("change", done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.changes.once("change", done);
      signal?.addEventListener("abort", done, { once: true });
      sleep(this.pollMs, undefined, { signal: ac.signal }).then(done, () => {});
    });
  }

  /** Appends the event and writes the object in one transaction; the event's number is the new resourceVersion. */
  protected async write(
    type: ResourceType,
    eventType: WatchEventType,
    object: Resource,
    expect: WriteExpectation,
  ): Promise<Resource> {
    const namespace = nsFor(type, object.metadata.namespace);
    const name = object.metadata.name;
    const tx = this.db.transaction(() => {
      this.check(type, namespace, name, expect);
      const { lastInsertRowid } = this.sql(
        "INSERT INTO events (kind, namespace, name, type, body) VALUES (?, ?, ?, ?, '')",
      ).run(type.kind, namespace, name, eventType);
      const rv = Number(lastInsertRowid);
      const stored: Resource = {
        ...object,
        metadata: { ...object.metadata, resourceVersion: String(rv) },
      };
      const body = JSON.stringify(stored);
      this.sql("UPDATE events SET body = ? WHERE rv = ?").run(body, rv);
      if (eventType === "DELETED") {
        this.sql("DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?").run(
          type.kind,
          namespace,
          name,
        );
      } else {
        this.sql(
          "INSERT OR REPLACE INTO objects (kind, namespace, name, resource_version, body) VALUES (?, ?, ?, ?, ?)",
        ).run(type.kind, namespace, name, rv, body);
      }
      if (rv % 1000 === 0) this.compact(rv);
      return stored;
    });
    const stored = tx.immediate();
    this.changes.emit("change");
    return stored;
  }

  private compact(rv: number): void {
    const keepFrom = rv - this.retention;
    if (keepFrom <= 0) return;
    this.sql("DELETE FROM events WHERE rv <= ?").run(keepFrom);
    this.sql("INSERT OR REPLACE INTO meta (key, value) VALUES ('compacted_rv', ?)").run(
      String(keepFrom),
    );
  }

  private check(
    type: ResourceType,
    namespace: string,
    name: string,
    expect: WriteExpectation,
  ): void {
    const row = this.sql<[string, string, string], { resource_version: number }>(
      "SELECT resource_version FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
    ).get(type.kind, namespace, name);
    if ("absent" in expect) {
      if (row) throw alreadyExists(type, name);
      return;
    }
    if (!row) throw notFound(type, name);
    if (String(row.resource_version) !== expect.version) throw conflict(type, name);
  }

  private currentVersion(): number {
    const row = this.sql<[], { rv: number | null }>("SELECT MAX(rv) AS rv FROM events").get();
    return row?.rv ?? Number(this.metaValue("compacted_rv") ?? 0);
  }

  private metaValue(key: string): string | undefined {
    return this.sql<[string], { value: string }>("SELECT value FROM meta WHERE key = ?").get(key)
      ?.value;
  }
}
