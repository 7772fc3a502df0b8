import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SqliteRecordStore } from "./sqlite-record-store.ts";

describe("SQLite records file modes", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-records-modes-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps the database, its -wal and -shm and a new directory for root only", async () => {
    const path = join(dir, "state", "records.db");
    const store = new SqliteRecordStore(path);
    await store.commit([{ kind: "atespace", key: "a", expectVersion: 0, value: { name: "a" } }]);
    assert.equal(statSync(join(dir, "state")).mode & 0o777, 0o700);
    for (const f of [path, `${path}-wal`, `${path}-shm`]) {
      assert.ok(existsSync(f), f);
      assert.equal(statSync(f).mode & 0o777, 0o600, f);
    }
    await store.close();
  });
});
