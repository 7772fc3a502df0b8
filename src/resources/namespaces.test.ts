// Namespaces a store held objects in before ate served v1 Namespace: declared at a server's start.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { workerPool } from "../api/testing.ts";
import { NamespaceType } from "../api/v1/index.ts";
import { WorkerPoolType } from "../api/v1alpha1/index.ts";
import { adoptNamespacesInUse, ensureDefaultNamespace } from "./namespaces.ts";
import { SqliteResourceStore } from "./sqlite-store.ts";

describe("namespaces at a server's start", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-ns-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("creates default once, and declares the namespaces older objects live in", async () => {
    const path = join(dir, "ate.db");
    const store = new SqliteResourceStore({ path });
    await ensureDefaultNamespace(store);
    await ensureDefaultNamespace(store);
    await store.create(WorkerPoolType, workerPool("p"));
    // What an older ate wrote: an object in a namespace nobody declared.
    const legacy = {
      ...workerPool("old", {}, "legacy"),
      metadata: { name: "old", namespace: "legacy" },
    };
    const db = new Database(path);
    db.prepare(
      "INSERT INTO objects (kind, namespace, name, resource_version, body) VALUES ('WorkerPool', 'legacy', 'old', 999, ?)",
    ).run(JSON.stringify(legacy));
    db.close();
    await assert.rejects(
      store.create(WorkerPoolType, workerPool("new", {}, "legacy")),
      /namespaces "legacy" not found/,
    );
    assert.deepEqual(await adoptNamespacesInUse(store), ["legacy"]);
    assert.deepEqual(await adoptNamespacesInUse(store), [], "once");
    assert.deepEqual(
      (await store.list(NamespaceType)).items.map((n) => n.metadata.name),
      ["default", "legacy"],
    );
    await store.create(WorkerPoolType, workerPool("new", {}, "legacy"));
    await store.close();
  });
});
