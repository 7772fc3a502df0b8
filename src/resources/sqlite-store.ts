import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { matchesSelector, parseSelector } from "../api/labels/index.ts";
import { admitResource, GROUP, type Resource, type ResourceType } from "../api/schema/index.ts";
import { type Clock, systemClock } from "../clock/index.ts";
import { AteError, Code } from "../errors/index.ts";
import { prepareSqliteFile } from "../private-files/index.ts";
import { sameJson } from "./canonical-json.ts";
import type {
  ListOptions,
  ResourceList,
  ResourceStore,
  WatchEvent,
  WatchEventType,
  WatchOptions,
  WriteOptions,
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
export class SqliteResourceStore implements ResourceStore {
  private readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly pollMs: number;
  private readonly retention: number;
  /** Wakes this process's watches at once; other processes' writes are seen by polling. */
  private readonly changes = new EventEmitter().setMaxListeners(0);

  constructor(options: SqliteResourceStoreOptions) {
    prepareSqliteFile(options.path); // root only, with its -wal and -shm
    this.db = new Database(options.path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(schemaSql);
    this.clock = options.clock ?? systemClock;
    this.pollMs = options.watchPollMs ?? 100;
    this.retention = options.eventRetention ?? 10000;
  }

  async get(type: ResourceType, namespace: string | undefined, name: string): Promise<Resource> {
    const row = this.db
      .prepare<[string, string, string], { body: string }>(
        "SELECT body FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
      )
      .get(type.kind, nsFor(type, namespace), name);
    if (!row) throw notFound(type, name);
    return JSON.parse(row.body) as Resource;
  }

  async list(type: ResourceType, options: ListOptions = {}): Promise<ResourceList> {
    const selector = options.labelSelector ? parseSelector(options.labelSelector) : undefined;
    const read = this.db.transaction(() => {
      const rows =
        type.scope === "Namespaced" && options.namespace !== undefined
          ? this.db
              .prepare<[string, string], { body: string }>(
                "SELECT body FROM objects WHERE kind = ? AND namespace = ? ORDER BY namespace, name",
              )
              .all(type.kind, options.namespace)
          : this.db
              .prepare<[string], { body: string }>(
                "SELECT body FROM objects WHERE kind = ? ORDER BY namespace, name",
              )
              .all(type.kind);
      return { rows, rv: this.currentVersion() };
    });
    const { rows, rv } = read();
    const items = rows
      .map((r) => JSON.parse(r.body) as Resource)
      .filter((o) => matchesSelector(selector, o.metadata.labels));
    return { items, resourceVersion: String(rv) };
  }

  async create(type: ResourceType, input: Resource, options: WriteOptions = {}): Promise<Resource> {
    const { status: _ignored, ...withoutStatus } = input; // status is written only through updateStatus
    const object = admitResource(type, withoutStatus as Resource);
    const namespace = nsFor(type, object.metadata.namespace);
    object.metadata = {
      ...object.metadata,
      ...(type.scope === "Namespaced" ? { namespace } : {}),
      uid: randomUUID(),
      generation: 1,
      creationTimestamp: this.clock
        .now()
        .toISOString()
        .replace(/\.\d{3}Z$/, "Z"),
    };
    delete object.metadata.resourceVersion;
    if (options.dryRun) return object;
    return this.write(type, "ADDED", object, () => {
      if (this.exists(type.kind, namespace, object.metadata.name))
        throw alreadyExists(type, object.metadata.name);
    });
  }

  async update(type: ResourceType, input: Resource, options: WriteOptions = {}): Promise<Resource> {
    const old = await this.get(type, input.metadata?.namespace, requireName(type, input));
    checkVersion(type, input, old);
    const merged: Resource = {
      ...input,
      metadata: {
        ...input.metadata,
        namespace: old.metadata.namespace,
        uid: old.metadata.uid,
        creationTimestamp: old.metadata.creationTimestamp,
        generation: old.metadata.generation,
        resourceVersion: old.metadata.resourceVersion,
      },
    };
    if (type.scope === "Cluster") delete merged.metadata.namespace;
    if (old.status !== undefined) merged.status = old.status;
    else delete merged.status;
    const object = admitResource(type, merged, old);
    if (sameJson(object, old)) return old; // a no-op update changes nothing, not even the version
    if (!sameJson(object.spec, old.spec))
      object.metadata.generation = (old.metadata.generation ?? 0) + 1;
    if (options.dryRun) return object;
    return this.write(type, "MODIFIED", object, () => this.assertCurrent(type, old));
  }

  async updateStatus(type: ResourceType, input: Resource): Promise<Resource> {
    if (!type.status)
      throw new AteError(Code.InvalidArgument, `${type.kind} has no status subresource`);
    const old = await this.get(type, input.metadata?.namespace, requireName(type, input));
    checkVersion(type, input, old);
    const object = admitResource(type, { ...old, status: input.status }, old);
    if (sameJson(object, old)) return old;
    return this.write(type, "MODIFIED", object, () => this.assertCurrent(type, old));
  }

  async delete(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    options: { resourceVersion?: string } = {},
  ): Promise<Resource> {
    const old = await this.get(type, namespace, name);
    if (options.resourceVersion && options.resourceVersion !== old.metadata.resourceVersion)
      throw conflict(type, name);
    return this.write(type, "DELETED", old, () => this.assertCurrent(type, old));
  }

  async *watch(options: WatchOptions): AsyncIterable<WatchEvent> {
    const { signal } = options;
    let after = options.resourceVersion ? Number(options.resourceVersion) : this.currentVersion();
    if (!Number.isInteger(after) || after < 0) {
      throw new AteError(
        Code.InvalidArgument,
        `resourceVersion "${options.resourceVersion}" is not a version from this store`,
      );
    }
    const compacted = Number(this.metaValue("compacted_rv") ?? 0);
    if (after < compacted) {
      throw new AteError(
        Code.OutOfRange,
        `too old resource version: ${after} (${compacted}): list again and watch from the list's resourceVersion`,
      );
    }
    const kindFilter = options.type ? "AND kind = ?" : "";
    const query = this.db.prepare<unknown[], EventRow>(
      `SELECT rv, kind, namespace, type, body FROM events WHERE rv > ? ${kindFilter} ORDER BY rv LIMIT 500`,
    );
    while (!signal?.aborted) {
      const rows = options.type ? query.all(after, options.type.kind) : query.all(after);
      for (const row of rows) {
        after = row.rv;
        if (
          options.namespace !== undefined &&
          options.type?.scope !== "Cluster" &&
          row.namespace !== options.namespace
        )
          continue;
        yield { type: row.type, object: JSON.parse(row.body) as Resource };
        if (signal?.aborted) return;
      }
      if (rows.length === 0) await this.waitForChange(signal);
    }
  }

  async close(): Promise<void> {
    this.changes.emit("change");
    this.db.close();
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
  private write(
    type: ResourceType,
    eventType: WatchEventType,
    object: Resource,
    precondition: () => void,
  ): Resource {
    const namespace = nsFor(type, object.metadata.namespace);
    const name = object.metadata.name;
    const tx = this.db.transaction(() => {
      precondition();
      const { lastInsertRowid } = this.db
        .prepare("INSERT INTO events (kind, namespace, name, type, body) VALUES (?, ?, ?, ?, '')")
        .run(type.kind, namespace, name, eventType);
      const rv = Number(lastInsertRowid);
      const stored: Resource = {
        ...object,
        metadata: { ...object.metadata, resourceVersion: String(rv) },
      };
      const body = JSON.stringify(stored);
      this.db.prepare("UPDATE events SET body = ? WHERE rv = ?").run(body, rv);
      if (eventType === "DELETED") {
        this.db
          .prepare("DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?")
          .run(type.kind, namespace, name);
      } else {
        this.db
          .prepare(
            "INSERT OR REPLACE INTO objects (kind, namespace, name, resource_version, body) VALUES (?, ?, ?, ?, ?)",
          )
          .run(type.kind, namespace, name, rv, body);
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
    this.db.prepare("DELETE FROM events WHERE rv <= ?").run(keepFrom);
    this.db
      .prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('compacted_rv', ?)")
      .run(String(keepFrom));
  }

  private exists(kind: string, namespace: string, name: string): boolean {
    return !!this.db
      .prepare("SELECT 1 FROM objects WHERE kind = ? AND namespace = ? AND name = ?")
      .get(kind, namespace, name);
  }

  private assertCurrent(type: ResourceType, old: Resource): void {
    const row = this.db
      .prepare<[string, string, string], { resource_version: number }>(
        "SELECT resource_version FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
      )
      .get(type.kind, nsFor(type, old.metadata.namespace), old.metadata.name);
    if (!row) throw notFound(type, old.metadata.name);
    if (String(row.resource_version) !== old.metadata.resourceVersion)
      throw conflict(type, old.metadata.name);
  }

  private currentVersion(): number {
    const row = this.db
      .prepare<[], { rv: number | null }>("SELECT MAX(rv) AS rv FROM events")
      .get();
    return row?.rv ?? Number(this.metaValue("compacted_rv") ?? 0);
  }

  private metaValue(key: string): string | undefined {
    return this.db
      .prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?")
      .get(key)?.value;
  }
}

function nsFor(type: ResourceType, namespace: string | undefined): string {
  return type.scope === "Cluster" ? "" : namespace || "default";
}

function requireName(type: ResourceType, input: Resource): string {
  const name = input.metadata?.name;
  if (typeof name !== "string" || name === "") {
    throw new AteError(
      Code.InvalidArgument,
      `${type.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
    );
  }
  return name;
}

function checkVersion(type: ResourceType, input: Resource, old: Resource): void {
  const rv = input.metadata?.resourceVersion;
  if (rv && rv !== old.metadata.resourceVersion) throw conflict(type, old.metadata.name);
}

const qualified = (type: ResourceType) => `${type.plural}.${GROUP}`;

function notFound(type: ResourceType, name: string): AteError {
  return new AteError(Code.NotFound, `${qualified(type)} "${name}" not found`);
}

function alreadyExists(type: ResourceType, name: string): AteError {
  return new AteError(
    Code.AlreadyExists,
    `${qualified(type)} "${name}" already exists: apply it to update, or delete it first`,
  );
}

function conflict(type: ResourceType, name: string): AteError {
  return new AteError(
    Code.Aborted,
    `Operation cannot be fulfilled on ${qualified(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
  );
}
