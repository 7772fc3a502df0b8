import Database from "better-sqlite3";
import { prepareSqliteFile } from "../private-files/index.ts";
import { StatementCache } from "../sqlite/index.ts";
import { MemoryChangeFeed } from "./change-feed.ts";
import { conflict } from "./conflict.ts";
import type { RecordKind, RecordPage, RecordStore, RecordWrite } from "./store.ts";

/** Records in one SQLite file; a commit is one IMMEDIATE transaction. */
export class SqliteRecordStore implements RecordStore {
  private readonly db: Database.Database;
  /** In memory: one process writes a SQLite store. */
  readonly changes = new MemoryChangeFeed();
  private readonly statements: StatementCache;

  constructor(path: string) {
    prepareSqliteFile(path); // root only: the records name every actor and token
    this.db = new Database(path);
    this.statements = new StatementCache(this.db);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(`CREATE TABLE IF NOT EXISTS records (
      kind TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
      PRIMARY KEY (kind, key)) WITHOUT ROWID`);
  }

  async get(kind: RecordKind, key: string): Promise<Record<string, unknown> | undefined> {
    const row = this.sql<[string, string], { body: string }>(
      "SELECT body FROM records WHERE kind = ? AND key = ?",
    ).get(kind, key);
    return row ? (JSON.parse(row.body) as Record<string, unknown>) : undefined;
  }

  async list(
    kind: RecordKind,
    options: { prefix?: string; after?: string; limit: number },
  ): Promise<RecordPage> {
    const prefix = options.prefix ?? "";
    const from = options.after !== undefined && options.after > prefix ? options.after : prefix;
    const strict = options.after !== undefined && options.after >= prefix;
    const rows = this.sql<[string, string, string, number], { key: string; body: string }>(
      `SELECT key, body FROM records WHERE kind = ? AND key ${strict ? ">" : ">="} ? AND key < ? ORDER BY key LIMIT ?`,
    ).all(kind, from, `${prefix}\uffff`, options.limit);
    const items = rows.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    const last = rows.length === options.limit ? rows[rows.length - 1]?.key : undefined;
    return last === undefined ? { items } : { items, last };
  }

  async count(kind: RecordKind, prefix = ""): Promise<number> {
    return (
      this.sql<[string, string, string], { n: number }>(
        "SELECT COUNT(*) AS n FROM records WHERE kind = ? AND key >= ? AND key < ?",
      ).get(kind, prefix, `${prefix}\uffff`)?.n ?? 0
    );
  }

  async commit(writes: RecordWrite[]): Promise<number[]> {
    const versionOf = this.sql<[string, string], { version: number }>(
      "SELECT version FROM records WHERE kind = ? AND key = ?",
    );
    const upsert = this.sql(
      "INSERT OR REPLACE INTO records (kind, key, version, body) VALUES (?, ?, ?, ?)",
    );
    const remove = this.sql("DELETE FROM records WHERE kind = ? AND key = ?");
    const tx = this.db.transaction(() => {
      for (const w of writes) {
        const actual = versionOf.get(w.kind, w.key)?.version ?? 0;
        if (actual !== w.expectVersion) throw conflict(w, actual);
      }
      return writes.map((w) => {
        const version = w.expectVersion + 1;
        if (w.value === undefined) remove.run(w.kind, w.key);
        else upsert.run(w.kind, w.key, version, JSON.stringify({ ...w.value, version }));
        return version;
      });
    });
    const versions = tx.immediate();
    this.changes.publish(writes, versions);
    return versions;
  }

  async clear(): Promise<void> {
    this.db.exec("DELETE FROM records WHERE kind != 'token'");
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.db.close();
  }

  private sql<P extends unknown[] = unknown[], R = unknown>(text: string) {
    return this.statements.sql<P, R>(text);
  }
}
