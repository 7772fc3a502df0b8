import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { workerPool } from "../api/testing.ts";
import { WorkerPoolType } from "../api/v1alpha1/index.ts";
import { SqliteResourceStore } from "./sqlite-store.ts";

describe("SQLite resources file modes", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-resources-modes-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps the database with its -wal and -shm for root only, and fixes an older 0644 one", async () => {
    const path = join(dir, "state", "ate.db");
    const modes = () => [path, `${path}-wal`, `${path}-shm`].map((f) => statSync(f).mode & 0o777);
    let store = new SqliteResourceStore({ path });
    await store.create(WorkerPoolType, workerPool("p"));
    assert.ok(existsSync(`${path}-wal`));
    assert.deepEqual(modes(), [0o600, 0o600, 0o600]);
    assert.equal(statSync(join(dir, "state")).mode & 0o777, 0o700);
    await store.close();
    // As an older version left it.
    for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o644);
    store = new SqliteResourceStore({ path });
    await store.create(WorkerPoolType, workerPool("q"));
    assert.deepEqual(modes(), [0o600, 0o600, 0o600]);
    await store.close();
  });
});
