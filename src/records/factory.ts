import { join } from "node:path";
import { AteError, Code } from "../errors/index.ts";
import { RedisRecordStore } from "./redis-record-store.ts";
import { SqliteRecordStore } from "./sqlite-record-store.ts";
import type { RecordStore } from "./store.ts";

/**
 * The one place a records backend is chosen: `redis://host:port[/db]` (or `rediss://`) for
 * many machines, `sqlite:///path`, a file path or `sqlite::memory:` for one; default
 * `<home>/records.db`.
 */
export function openRecordStore(url: string | undefined, home: string): RecordStore {
  const u = url ?? join(home, "records.db");
  if (u.startsWith("redis://") || u.startsWith("rediss://"))
    return new RedisRecordStore({ url: u });
  if (u === "sqlite::memory:") return new SqliteRecordStore(":memory:");
  if (u.startsWith("sqlite://")) return new SqliteRecordStore(u.slice("sqlite://".length));
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) return new SqliteRecordStore(u);
  throw new AteError(
    Code.InvalidArgument,
    `records store "${u}" is not supported: use redis://host:port or sqlite:///path`,
  );
}
