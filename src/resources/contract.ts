// The behaviour every ResourceStore backend must have, as tests: each backend's test file
// calls resourceStoreContract with a way to make fresh storage for it.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { actorTemplate, namespaceObject, sandboxConfig, workerPool } from "../api/testing.ts";
import { NamespaceType } from "../api/v1/index.ts";
import { ActorTemplateType, SandboxConfigType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { applyResource } from "./apply.ts";
import { coreKindsContract } from "./contract-core-kinds.ts";
import type { ResourceStore, WatchEvent } from "./store.ts";

/** Storage of one backend that several stores (processes, control planes) can open at once. */
export interface ContractStorage {
  open(): ResourceStore;
  /** Removes what the storage holds; stores opened on it are closed already. */
  dispose(): Promise<void>;
}

/** Makes fresh, empty storage. `eventRetention`: change events kept for watches. */
export type ContractBackend = (options?: { eventRetention?: number }) => Promise<ContractStorage>;

const rejectsWith = (code: Code, pattern: RegExp) => (err: unknown) =>
  isAteError(err, code) && pattern.test((err as Error).message);

const show = (e: WatchEvent) =>
  `${e.type} ${e.object.kind}/${e.object.metadata.name} rv=${e.object.metadata.resourceVersion}`;

async function collect(iter: AsyncIterable<WatchEvent>, n: number): Promise<string[]> {
  const out: string[] = [];
  for await (const e of iter) {
    out.push(show(e));
    if (out.length === n) break;
  }
  return out;
}

export function resourceStoreContract(name: string, backend: ContractBackend): void {
  describe(`${name} (ResourceStore contract)`, () => {
    let storage: ContractStorage;
    let opened: ResourceStore[];
    let store: ResourceStore;
    /** Another store on the same storage: another process or control plane. */
    const peer = () => {
      const s = storage.open();
      opened.push(s);
      return s;
    };
    beforeEach(async () => {
      storage = await backend();
      opened = [];
      store = peer();
    });
    afterEach(async () => {
      await Promise.all(opened.map((s) => s.close()));
      await storage.dispose();
    });

    it("creates objects with uid, resourceVersion, generation, creationTimestamp and defaults", async () => {
      const created = await store.create(WorkerPoolType, workerPool("p"));
      assert.match(created.metadata.uid ?? "", /^[0-9a-f-]{36}$/);
      assert.equal(created.metadata.generation, 1);
      assert.match(created.metadata.creationTimestamp ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.match(created.metadata.resourceVersion ?? "", /^[1-9]\d*$/);
      assert.equal(created.spec.sandboxClass, "gvisor");
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
      await assert.rejects(
        store.updateStatus(SandboxConfigType, sandboxConfig("c")),
        rejectsWith(Code.InvalidArgument, /SandboxConfig has no status subresource/),
      );
    });

    it("rejects a stale resourceVersion as a conflict", async () => {
      const created = await store.create(WorkerPoolType, workerPool("p"));
      await store.update(WorkerPoolType, { ...created, spec: { ...created.spec, replicas: 4 } });
      await assert.rejects(
        store.update(WorkerPoolType, { ...created, spec: { ...created.spec, replicas: 5 } }),
        rejectsWith(Code.Aborted, /the object has been modified/),
      );
      await assert.rejects(
        store.delete(WorkerPoolType, "default", "p", {
          resourceVersion: created.metadata.resourceVersion,
        }),
        rejectsWith(Code.Aborted, /modified/),
      );
    });

    it("lets exactly one of two racing updates from two stores win", async () => {
      const other = peer();
      const created = await store.create(WorkerPoolType, workerPool("p"));
      const results = await Promise.allSettled(
        [store, other].map((s, i) =>
          s.update(WorkerPoolType, { ...created, spec: { ...created.spec, replicas: 10 + i } }),
        ),
      );
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      const lost = results.find((r) => r.status === "rejected");
      assert.ok(isAteError(lost?.reason, Code.Aborted), String(lost?.reason));
      const racers = await Promise.allSettled(
        [store, other].map((s) => s.create(SandboxConfigType, sandboxConfig("c"))),
      );
      assert.equal(racers.filter((r) => r.status === "fulfilled").length, 1);
    });

    it("leaves the version alone on a no-op update, and stores nothing on dryRun", async () => {
      const created = await store.create(WorkerPoolType, workerPool("p"));
      const same = await store.update(WorkerPoolType, workerPool("p"));
      assert.equal(same.metadata.resourceVersion, created.metadata.resourceVersion);
      const before = (await store.list(WorkerPoolType)).resourceVersion;
      const dry = await store.create(WorkerPoolType, workerPool("q"), { dryRun: true });
      assert.equal(dry.metadata.name, "q");
      assert.equal(dry.metadata.resourceVersion, undefined);
      const dryUpdate = await store.update(WorkerPoolType, workerPool("p", { replicas: 9 }), {
        dryRun: true,
      });
      assert.equal(dryUpdate.spec.replicas, 9);
      assert.equal((await store.get(WorkerPoolType, "default", "p")).spec.replicas, 2);
      await assert.rejects(
        store.get(WorkerPoolType, "default", "q"),
        rejectsWith(Code.NotFound, /"q" not found/),
      );
      assert.equal((await store.list(WorkerPoolType)).resourceVersion, before);
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
      for (const hostile of ["../etc", "a\0b", "x".repeat(300), "A:B"]) {
        await assert.rejects(
          store.create(SandboxConfigType, sandboxConfig(hostile)),
          rejectsWith(Code.InvalidArgument, /metadata.name/),
        );
      }
      await assert.rejects(
        store.update(SandboxConfigType, { ...sandboxConfig("c"), metadata: { name: "" } }),
        rejectsWith(Code.InvalidArgument, /metadata.name: Required value/),
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
      await assert.rejects(
        store.get(WorkerPoolType, "a\0b", "c:d"),
        rejectsWith(Code.NotFound, /not found/),
      );
      await assert.rejects(
        store.delete(SandboxConfigType, undefined, "x"),
        rejectsWith(Code.NotFound, /"x" not found/),
      );
    });

    it("scopes namespaced kinds and lists by namespace and label", async () => {
      for (const ns of ["team-a", "team-b", "team"])
        await store.create(NamespaceType, namespaceObject(ns));
      const a = workerPool("a", {}, "team-a");
      a.metadata.labels = { tier: "gpu" };
      await store.create(WorkerPoolType, a);
      await store.create(WorkerPoolType, workerPool("a", {}, "team-b"));
      await store.create(WorkerPoolType, workerPool("b", {}, "team-b"));
      await store.create(WorkerPoolType, workerPool("c", {}, "team"));
      const names = (items: { metadata: { namespace?: string; name: string } }[]) =>
        items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
      assert.deepEqual(names((await store.list(WorkerPoolType)).items), [
        "team/c",
        "team-a/a",
        "team-b/a",
        "team-b/b",
      ]);
      assert.deepEqual(names((await store.list(WorkerPoolType, { namespace: "team-b" })).items), [
        "team-b/a",
        "team-b/b",
      ]);
      assert.deepEqual(names((await store.list(WorkerPoolType, { namespace: "team" })).items), [
        "team/c",
      ]);
      assert.deepEqual(
        names((await store.list(WorkerPoolType, { labelSelector: "tier=gpu" })).items),
        ["team-a/a"],
      );
    });

    it("shares one truth between two stores on the same storage", async () => {
      const other = peer();
      await other.create(SandboxConfigType, sandboxConfig("c"));
      assert.equal((await store.get(SandboxConfigType, undefined, "c")).metadata.name, "c");
      assert.deepEqual(
        (await store.list(SandboxConfigType)).items.map((o) => o.metadata.name),
        ["c"],
      );
      assert.equal(
        (await store.list(SandboxConfigType)).resourceVersion,
        (await other.list(SandboxConfigType)).resourceVersion,
      );
    });

    it("applies as create, configure or unchanged", async () => {
      assert.equal(
        (await applyResource(store, WorkerPoolType, workerPool("p"))).outcome,
        "created",
      );
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
      assert.equal((await store.get(WorkerPoolType, "default", "p")).spec.replicas, 7);
    });

    describe("v1 Namespace and Secret", () => coreKindsContract(() => store));

    describe("watch", () => {
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
        for (const ns of ["a", "b"]) await store.create(NamespaceType, namespaceObject(ns));
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

      it("shows every watcher on every store every change, in the same order", async () => {
        const stores = [store, peer(), peer()];
        const { resourceVersion } = await store.list(WorkerPoolType);
        const ac = new AbortController();
        const n = 12;
        const seen = stores.map((s) => collect(s.watch({ resourceVersion, signal: ac.signal }), n));
        // Writes from every store at once, all to one object or to their own.
        await Promise.all(
          stores.map(async (s, i) => {
            await s.create(WorkerPoolType, workerPool(`p${i}`));
            for (let r = 1; r <= 2; r++)
              await s.update(WorkerPoolType, workerPool(`p${i}`, { replicas: r + 2 }));
            await s.delete(WorkerPoolType, "default", `p${i}`);
          }),
        );
        const [first, ...rest] = await Promise.all(seen);
        ac.abort();
        assert.equal(first?.length, n);
        for (const other of rest) assert.deepEqual(other, first);
        const versions = (first ?? []).map((l) => Number(l.split("rv=")[1]));
        assert.deepEqual(
          versions,
          versions.map((_, i) => Number(resourceVersion) + 1 + i),
          "consecutive versions, no gaps",
        );
      });

      it("refuses a resourceVersion that is not one of its own", async () => {
        for (const rv of ["abc", "-1", "1.5", "9".repeat(40)]) {
          const iter = store.watch({ resourceVersion: rv })[Symbol.asyncIterator]();
          await assert.rejects(
            iter.next(),
            rejectsWith(Code.InvalidArgument, /is not a version from this store/),
          );
        }
      });

      it("tells a watcher from a compacted version to list again", async () => {
        const small = await backend({ eventRetention: 10 });
        const s = small.open();
        try {
          for (let i = 0; i < 1000; i++)
            await s.updateStatus(WorkerPoolType, await ensurePool(s, i));
          const iter = s.watch({ resourceVersion: "1" })[Symbol.asyncIterator]();
          await assert.rejects(
            iter.next(),
            rejectsWith(Code.OutOfRange, /too old resource version: 1/),
          );
          // From a recent list it still works.
          const { resourceVersion } = await s.list(WorkerPoolType);
          const ac = new AbortController();
          const events = collect(s.watch({ resourceVersion, signal: ac.signal }), 1);
          await s.updateStatus(WorkerPoolType, await ensurePool(s, 5000));
          assert.match((await events)[0] ?? "", /^MODIFIED WorkerPool\/p/);
          ac.abort();
        } finally {
          await s.close();
          await small.dispose();
        }
      });
    });
  });
}

async function ensurePool(store: ResourceStore, i: number) {
  try {
    return { ...(await store.get(WorkerPoolType, "default", "p")), status: { replicas: i } };
  } catch {
    return { ...(await store.create(WorkerPoolType, workerPool("p"))), status: { replicas: i } };
  }
}
