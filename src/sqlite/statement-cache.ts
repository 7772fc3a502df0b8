import type Database from "better-sqlite3";

/**
 * A database's statements by SQL text, prepared once: preparing parses and plans the SQL each
 * time, and the stores' every read and write would pay it (≈7 ms of CPU per actor swap, which
 * reads and commits records several times).
 */
export class StatementCache {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  sql<P extends unknown[] = unknown[], R = unknown>(text: string): Database.Statement<P, R> {
    let s = this.statements.get(text);
    if (!s) {
      s = this.db.prepare(text);
      this.statements.set(text, s);
    }
    return s as unknown as Database.Statement<P, R>;
  }

  /** Forgets them all (before the database closes). */
  clear(): void {
    this.statements.clear();
  }
}
