import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { actorTemplate, sandboxConfig, workerPool } from "../api/testing.ts";
import { ActorTemplateType, SandboxConfigType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { applyResource } from "./apply.ts";
import { SqliteResourceStore } from "./sqlite-store.ts";
import type { WatchEvent } from "./store.ts";

const rejectsWith = (code: Code, pattern: RegExp) => (err: unknown) =>
  isAteError(err, code) && pattern.test((err as Error).message);

describe("SqliteResourceStore", () => {
  let dir: string;
  let store: SqliteResourceStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "ate-store-"));
    store = new SqliteResourceStore({ path: join(dir, "ate.db"), watchPollMs: 10 });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates objects with uid, resourceVersion, generation, creationTimestamp and defaults", async () => {
    const created = await store.create(WorkerPoolType, workerPool("p"));
    assert.match(created.metadata.uid ?? "", /^[0-9a-f-]{36}$/);
    assert.equal(created.metadata.generation, 1);
    assert.match(created.metadata.creationTimestamp ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal((created.spec as { sandboxClass: string }).sandboxClass, "gvisor");
    assert.deepEqual(await store.get(WorkerPoolType, "default", "p"), created);
  });

  it("ignores status on create and keeps it out of spec updates", async () => {
    const created = await store.create(WorkerPoolType, {
      ...workerPool("p"),
      status: { replicas: 5 },
    });
    assert.equal(created.status, undefined);
    const withStatus = await store.updateStatus(WorkerPoolType, {
      ...created,
      status: { replicas: 2 },
    });
    assert.deepEqual(withStatus.status, { replicas: 2 });
    assert.equal(withStatus.metadata.generation, 1, "status changes do not bump generation");
    const scaled = await store.update(WorkerPoolType, {
      ...workerPool("p", { replicas: 3 }),
      status: { replicas: 99 },
    });
    assert.deepEqual(scaled.status, { replicas: 2 });
    assert.equal(scaled.metadata.generation, 2);
    assert.equal(scaled.metadata.uid, created.metadata.uid);
  });

  it("rejects a stale resourceVersion as a conflict", async () => {
    const created = await store.create(WorkerPoolType, workerPool("p"));
    await store.update(WorkerPoolType, {
      ...created,
      spec: { ...(created.spec as object), replicas: 4 },
    });
    await assert.rejects(
      store.update(WorkerPoolType, {
        ...created,
        spec: { ...(created.spec as object), replicas: 5 },
      }),
      rejectsWith(Code.Aborted, /the object has been modified/),
    );
    await assert.rejects(
      store.delete(WorkerPoolType, "default", "p", {
        resourceVersion: created.metadata.resourceVersion,
      }),
      rejectsWith(Code.Aborted, /modified/),
    );
  });

  it("leaves the version alone on a no-op update", async () => {
    const created = await store.create(WorkerPoolType, workerPool("p"));
    const same = await store.update(WorkerPoolType, workerPool("p"));
    assert.equal(same.metadata.resourceVersion, created.metadata.resourceVersion);
  });

  it("keeps ActorTemplate specs immutable and stores nothing invalid", async () => {
    await store.create(ActorTemplateType, actorTemplate("t"));
    await assert.rejects(
      store.update(ActorTemplateType, actorTemplate("t", { sandboxClass: "microvm" })),
      rejectsWith(
        Code.InvalidArgument,
        /ActorTemplate "t" is invalid: spec: Invalid value: "object": Spec is immutable/,
      ),
    );
    const labelled = actorTemplate("t");
    labelled.metadata.labels = { team: "a" };
    assert.deepEqual((await store.update(ActorTemplateType, labelled)).metadata.labels, {
      team: "a",
    });
    await assert.rejects(
      store.create(SandboxConfigType, sandboxConfig("c", { assets: {} })),
      rejectsWith(Code.InvalidArgument, /runsc/),
    );
    assert.deepEqual((await store.list(SandboxConfigType)).items, []);
  });

  it("refuses duplicates and reports missing objects by kind and name", async () => {
    await store.create(SandboxConfigType, sandboxConfig("c"));
    await assert.rejects(
      store.create(SandboxConfigType, sandboxConfig("c")),
      rejectsWith(Code.AlreadyExists, /sandboxconfigs.ate.dev "c" already exists/),
    );
    await assert.rejects(
      store.get(SandboxConfigType, undefined, "x"),
      rejectsWith(Code.NotFound, /sandboxconfigs.ate.dev "x" not found/),
    );
  });

  it("scopes namespaced kinds and lists by namespace and label", async () => {
    const a = workerPool("a", {}, "team-a");
    a.metadata.labels = { tier: "gpu" };
    await store.create(WorkerPoolType, a);
    await store.create(WorkerPoolType, workerPool("a", {}, "team-b"));
    await store.create(WorkerPoolType, workerPool("b", {}, "team-b"));
    const names = (items: { metadata: { namespace?: string; name: string } }[]) =>
      items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
    assert.deepEqual(names((await store.list(WorkerPoolType)).items), [
      "team-a/a",
      "team-b/a",
      "team-b/b",
    ]);
    assert.deepEqual(names((await store.list(WorkerPoolType, { namespace: "team-b" })).items), [
      "team-b/a",
      "team-b/b",
    ]);
    assert.deepEqual(
      names((await store.list(WorkerPoolType, { labelSelector: "tier=gpu" })).items),
      ["team-a/a"],
    );
  });

  it("sees another process's writes through the same file", async () => {
    const other = new SqliteResourceStore({ path: join(dir, "ate.db") });
    try {
      await other.create(SandboxConfigType, sandboxConfig("c"));
      assert.equal((await store.get(SandboxConfigType, undefined, "c")).metadata.name, "c");
    } finally {
      await other.close();
    }
  });

  it("applies as create, configure or unchanged", async () => {
    assert.equal((await applyResource(store, WorkerPoolType, workerPool("p"))).outcome, "created");
    assert.equal(
      (await applyResource(store, WorkerPoolType, workerPool("p"))).outcome,
      "unchanged",
    );
    const { outcome, object } = await applyResource(
      store,
      WorkerPoolType,
      workerPool("p", { replicas: 7 }),
    );
    assert.equal(outcome, "configured");
    assert.equal((object.spec as { replicas: number }).replicas, 7);
    const dry = await applyResource(store, WorkerPoolType, workerPool("p", { replicas: 9 }), {
      dryRun: true,
    });
    assert.equal(dry.outcome, "configured");
    assert.equal(
      ((await store.get(WorkerPoolType, "default", "p")).spec as { replicas: number }).replicas,
      7,
    );
  });

  describe("watch", () => {
    async function collect(iter: AsyncIterable<WatchEvent>, n: number): Promise<string[]> {
      const out: string[] = [];
      for await (const e of iter) {
        out.push(
          `${e.type} ${e.object.kind}/${e.object.metadata.name} rv=${e.object.metadata.resourceVersion}`,
        );
        if (out.length === n) break;
      }
      return out;
    }

    it("replays ordered changes after a list's resourceVersion, then follows new ones", async () => {
      await store.create(SandboxConfigType, sandboxConfig("before"));
      const { resourceVersion } = await store.list(SandboxConfigType);
      const created = await store.create(SandboxConfigType, sandboxConfig("c"));
      const ac = new AbortController();
      const events = collect(
        store.watch({ type: SandboxConfigType, resourceVersion, signal: ac.signal }),
        3,
      );
      await store.update(SandboxConfigType, sandboxConfig("c", { default: true }));
      await store.delete(SandboxConfigType, undefined, "c");
      const rv = Number(created.metadata.resourceVersion);
      assert.deepEqual(await events, [
        `ADDED SandboxConfig/c rv=${rv}`,
        `MODIFIED SandboxConfig/c rv=${rv + 1}`,
        `DELETED SandboxConfig/c rv=${rv + 2}`,
      ]);
      ac.abort();
    });

    it("filters by kind and namespace, and ends when aborted", async () => {
      const ac = new AbortController();
      const events = collect(
        store.watch({ type: WorkerPoolType, namespace: "b", signal: ac.signal }),
        1,
      );
      await store.create(SandboxConfigType, sandboxConfig("c"));
      await store.create(WorkerPoolType, workerPool("p", {}, "a"));
      await store.create(WorkerPoolType, workerPool("q", {}, "b"));
      assert.match((await events)[0] ?? "", /^ADDED WorkerPool\/q/);
      const idle = collect(store.watch({ signal: ac.signal }), 10);
      ac.abort();
      assert.deepEqual(await idle, []);
    });

    it("tells a watcher from a compacted version to list again", async () => {
      const small = new SqliteResourceStore({ path: ":memory:", eventRetention: 10 });
      try {
        for (let i = 0; i < 1000; i++)
          await small.updateStatus(WorkerPoolType, await ensurePool(small, i));
        const iter = small.watch({ resourceVersion: "1" })[Symbol.asyncIterator]();
        await assert.rejects(
          iter.next(),
          rejectsWith(Code.OutOfRange, /too old resource version: 1/),
        );
      } finally {
        await small.close();
      }
    });
  });
});

async function ensurePool(store: SqliteResourceStore, i: number) {
  try {
    return { ...(await store.get(WorkerPoolType, "default", "p")), status: { replicas: i } };
  } catch {
    return { ...(await store.create(WorkerPoolType, workerPool("p"))), status: { replicas: i } };
  }
}
