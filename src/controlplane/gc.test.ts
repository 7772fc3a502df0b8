// Snapshot ownership and collection against real storage (a directory, and S3 via s3rver)
// and real record and resource stores: what is owned stays, what is released or unowned goes.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { declareNoopPool } from "../../test/support/noop-pool.ts";
import { type RunningS3, startS3 } from "../../test/support/s3rver.ts";
import { WritingNodeAgent, writeFakeSnapshot } from "../../test/support/writing-node-agent.ts";
import { actorTemplate } from "../api/testing.ts";
import { ActorTemplateType } from "../api/v1alpha1/index.ts";
import { openBlobStore } from "../blob/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { snapshotHistoryOf } from "../snapshots/index.ts";
import { ControlPlane } from "./control-plane.ts";
import { collectGarbage } from "./gc.ts";
import { StaticNodeDirectory } from "./nodes.ts";

const writeFake = writeFakeSnapshot;

async function exists(uri: string): Promise<boolean> {
  return (await openBlobStore(uri).list("")).length > 0;
}

const id = (n: number) => `20260101T00000${n}Z-0000000${n}`;

function suite(name: string, location: () => string) {
  describe(`snapshot gc on ${name}`, () => {
    let records: Records;
    let resources: SqliteResourceStore;
    let cp: ControlPlane;
    const agent = new WritingNodeAgent();
    const gc = (o: { graceMs?: number; dryRun?: boolean; nodes?: StaticNodeDirectory } = {}) =>
      collectGarbage({
        records,
        resources,
        graceMs: 60_000,
        // Belt and braces: the collector never lists storage outside the test's own location.
        open: (uri) => {
          if (!uri.startsWith(location())) throw new Error(`${uri} is not the test's`);
          return openBlobStore(uri);
        },
        ...o,
      });

    before(async () => {
      records = new Records(new SqliteRecordStore(":memory:"));
      resources = new SqliteResourceStore({ path: ":memory:" });
      await declareNoopPool(resources, records, agent, { replicas: 2 });
      // Its location is shared by this test process's templates: a collector reading it
      // would sweep what other suites left there. Every location here is the suite's own.
      await resources.delete(ActorTemplateType, "default", "counter");
      await resources.create(ActorTemplateType, {
        ...actorTemplate("c"),
        spec: {
          ...(actorTemplate("c").spec as Record<string, unknown>),
          snapshotsConfig: { location: location() },
        },
      });
      cp = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({ n1: agent }) });
      await cp.createAtespace("t");
    });
    after(async () => {
      await records.store.close();
      await resources.close();
    });
    const ref = (n: string) => ({ atespace: "t", name: n });

    it("keeps only the latest snapshot after each suspend (default history 1)", async () => {
      await cp.createActor(ref("a"), "default", "c");
      const seen: string[] = [];
      for (let i = 0; i < 3; i++) {
        await cp.resumeActor(ref("a"));
        const s = await cp.suspendActor(ref("a"));
        seen.push(s.latestSnapshot?.uri as string);
        assert.deepEqual(s.snapshots, [s.latestSnapshot?.uri]);
      }
      assert.deepEqual(
        await Promise.all(seen.map(exists)),
        [false, false, true],
        "superseded snapshots removed",
      );
    });

    it("keeps the last N with ate.dev/snapshot-history, and refuses hostile values", async () => {
      const t = await resources.get(ActorTemplateType, "default", "c");
      await resources.update(ActorTemplateType, {
        ...t,
        metadata: { ...t.metadata, annotations: { "ate.dev/snapshot-history": "2" } },
      });
      await cp.createActor(ref("b"), "default", "c");
      const seen: string[] = [];
      for (let i = 0; i < 3; i++) {
        await cp.resumeActor(ref("b"));
        seen.push((await cp.suspendActor(ref("b"))).latestSnapshot?.uri as string);
      }
      assert.deepEqual(await Promise.all(seen.map(exists)), [false, true, true]);
      for (const bad of ["0", "-1", "abc", "1e3", " 2", "2.5", "1001", "0x10", ""])
        assert.throws(
          () => snapshotHistoryOf({ "ate.dev/snapshot-history": bad }),
          /metadata.annotations\[ate.dev\/snapshot-history\]: Invalid value/,
          bad,
        );
      // An unreadable value keeps everything rather than guess.
      const t2 = await resources.get(ActorTemplateType, "default", "c");
      await resources.update(ActorTemplateType, {
        ...t2,
        metadata: { ...t2.metadata, annotations: { "ate.dev/snapshot-history": "x" } },
      });
      await cp.resumeActor(ref("b"));
      const s = await cp.suspendActor(ref("b"));
      assert.equal(s.snapshots?.length, 3);
      assert.ok(await exists(seen[1] as string));
      const t3 = await resources.get(ActorTemplateType, "default", "c");
      await resources.update(ActorTemplateType, {
        ...t3,
        metadata: { ...t3.metadata, annotations: {} },
      });
    });

    it("a node-local snapshot goes once superseded: by a pause, a suspend, a delete", async () => {
      const local = () => [...agent.local.keys()].filter((u) => u.includes("/t/p/"));
      await cp.createActor(ref("p"), "default", "c");
      await cp.resumeActor(ref("p"));
      const l1 = (await cp.pauseActor(ref("p"))).latestSnapshot?.uri;
      assert.deepEqual(local(), [l1]);
      await cp.resumeActor(ref("p"));
      assert.deepEqual(local(), [l1], "kept while it runs from it (a crash goes back to it)");
      const p2 = await cp.pauseActor(ref("p"));
      assert.deepEqual(local(), [p2.latestSnapshot?.uri], "only the newest on the node");
      assert.deepEqual(p2.snapshots ?? [], [], "a local one is never history");
      await cp.resumeActor(ref("p"));
      await cp.suspendActor(ref("p"));
      assert.deepEqual(local(), [], "a suspend supersedes it");
      // One left by an actor deleted while its latest is local (a suspend that lost its
      // sandbox keeps the last snapshot it had): its node removes it at DeleteActor.
      await cp.resumeActor(ref("p"));
      const l3 = (await cp.pauseActor(ref("p"))).latestSnapshot;
      const p3 = await records.getActor("t", "p");
      await records.updateActor({ ...p3, status: "SUSPENDED" });
      await cp.deleteActor(ref("p"));
      assert.ok(l3?.type === "LOCAL");
      assert.deepEqual(local(), []);
    });

    it("lastExternalSnapshot never keeps a snapshot the history let go of", async () => {
      const objects = async () =>
        new Set(
          (await openBlobStore(`${location()}/t/q`).list("")).map((b) => b.key.split("/")[0]),
        );
      await cp.createActor(ref("q"), "default", "c");
      await cp.resumeActor(ref("q"));
      const e1 = (await cp.suspendActor(ref("q"))).latestSnapshot?.uri as string;
      await cp.resumeActor(ref("q"));
      const paused = await cp.pauseActor(ref("q"));
      assert.equal(paused.lastExternalSnapshot?.uri, e1, "the fallback while paused");
      assert.ok(await exists(e1));
      await cp.resumeActor(ref("q"));
      const s = await cp.suspendActor(ref("q"));
      assert.equal(s.lastExternalSnapshot, undefined);
      assert.ok(!(await exists(e1)), "superseded at once, not kept by lastExternalSnapshot");
      for (let i = 0; i < 3; i++) {
        await cp.resumeActor(ref("q"));
        await cp.pauseActor(ref("q"));
        await cp.resumeActor(ref("q"));
        await cp.suspendActor(ref("q"));
        assert.equal((await objects()).size, 1, "disk per actor bounded at N = 1");
      }
      await cp.resumeActor(ref("q"));
      await cp.suspendActor(ref("q"));
    });

    it("the collector sweeps node-local leftovers no record points at", async () => {
      const nodes = new StaticNodeDirectory({ n1: agent });
      await cp.resumeActor(ref("q"));
      const owned = (await cp.pauseActor(ref("q"))).latestSnapshot?.uri as string;
      const old = "file:///noop/t/gone/old";
      const young = "file:///noop/t/gone/young";
      const busy = "file:///noop/t/q/under-way";
      const hourAgo = Date.now() - 3_600_000;
      agent.local.set(old, { uri: old, bytes: 10, modifiedAt: hourAgo });
      agent.local.set(young, { uri: young, bytes: 10, modifiedAt: Date.now() });
      const dry = await gc({ nodes, dryRun: true });
      assert.deepEqual(
        dry.removals.filter((r) => r.uri.startsWith("file:///noop")).map((r) => r.uri),
        [old],
      );
      assert.ok(agent.local.has(old), "dry run removed nothing");
      await gc({ nodes });
      assert.ok(!agent.local.has(old) && agent.local.has(young) && agent.local.has(owned));
      // A pause under way writes its snapshot before any record names it: left alone.
      const q = await records.getActor("t", "q");
      await records.updateActor({ ...q, status: "RESUMING" });
      agent.local.set(busy, { uri: busy, bytes: 10, modifiedAt: hourAgo });
      await gc({ nodes, graceMs: 0 });
      assert.ok(!agent.local.has(young) && agent.local.has(busy) && agent.local.has(owned));
      await records.updateActor({ ...(await records.getActor("t", "q")), status: "PAUSED" });
      await gc({ nodes, graceMs: 0 });
      assert.deepEqual([...agent.local.keys()], [owned]);
      await cp.resumeActor(ref("q"));
      await cp.suspendActor(ref("q"));
      assert.deepEqual([...agent.local.keys()], []);
    });

    it("sweeps leftovers past the grace, never an owned snapshot; dry run changes nothing", async () => {
      const loc = location();
      const young = `${loc}/t/a/${id(1)}`;
      const old = `${loc}/t/gone/${id(2)}`;
      const foreign = `${loc}/_runtime`;
      await writeFake(young);
      await writeFake(old, 5000);
      await openBlobStore(foreign).put("runsc", Buffer.from("x"));
      await openBlobStore(loc).put("notes.txt", Buffer.from("x"));
      if (loc.startsWith("file:")) {
        const past = new Date(Date.now() - 3_600_000);
        for (const f of ["checkpoint.img", "manifest.json"])
          utimesSync(join(new URL(old).pathname, f), past, past);
      }
      const a = await records.getActor("t", "a");
      const dry = await gc({ dryRun: true, graceMs: loc.startsWith("file:") ? 60_000 : 0 });
      assert.ok(dry.removals.some((r) => r.uri === old && r.bytes === 5002));
      assert.ok(!dry.removals.some((r) => r.uri.endsWith(a.latestSnapshot?.uri ?? "?")));
      assert.ok(await exists(old), "dry run removed nothing");
      if (loc.startsWith("file:")) {
        const r = await gc();
        // b's history past the default 1 (its annotation is gone now) goes too, released.
        assert.deepEqual(
          r.removals.filter((x) => x.reason === "unowned").map((x) => x.uri),
          [old],
        );
        assert.ok(r.removals.every((x) => x.reason === "unowned" || x.uri.includes("/t/b/")));
        assert.ok(await exists(young), "young leftover kept within the grace");
      }
      const r0 = await gc({ graceMs: 0 });
      assert.ok(!(await exists(young)) && !(await exists(old)));
      assert.ok(!r0.removals.some((x) => x.uri === a.latestSnapshot?.uri));
      assert.ok(await exists(a.latestSnapshot?.uri as string), "owned snapshot kept");
      assert.ok(await exists(foreign), "what ate did not write is never swept");
      assert.equal((await openBlobStore(loc).list("notes.txt")).length, 1);
    });

    it("removes a deleted actor's snapshots and then its orphans record", async () => {
      const b = await records.getActor("t", "b");
      const uris = b.snapshots ?? [];
      await cp.deleteActor(ref("b"));
      for (const u of uris) assert.ok(!(await exists(u)), u);
      assert.equal((await records.orphanedSnapshots()).length, 1);
      await gc();
      assert.equal((await records.orphanedSnapshots()).length, 0);
    });

    it("keeps a tag's copy while the tag exists, and sweeps it once the tag is gone", async () => {
      const copy = `${location()}/_tags/t/v1/${id(3)}`;
      await writeFake(copy);
      const tag = {
        atespace: "t",
        name: "v1",
        template: { namespace: "default", name: "counter" },
        policy: "ATESPACE",
        snapshot: { type: "EXTERNAL", scope: "Full", uri: copy },
        sourceActor: { atespace: "t", actorId: "a" },
        createdAt: new Date().toISOString(),
      };
      await records.store.commit([
        { kind: "snapshottag", key: "t/v1", expectVersion: 0, value: tag },
      ]);
      await gc({ graceMs: 0 });
      assert.ok(await exists(copy));
      await records.store.commit([{ kind: "snapshottag", key: "t/v1", expectVersion: 1 }]);
      await gc({ graceMs: 0 });
      assert.ok(!(await exists(copy)));
    });

    it("keeps a template's golden and the one before; a deleted template's golden goes", async () => {
      await resources.create(ActorTemplateType, {
        ...actorTemplate("g"),
        spec: {
          ...(actorTemplate("g").spec as Record<string, unknown>),
          snapshotsConfig: { location: location() },
        },
      });
      const golden = { atespace: "ate-golden", name: "default-g" };
      await cp.createAtespace("ate-golden");
      await cp.createActor(golden, "default", "g");
      const seen: string[] = [];
      for (let i = 0; i < 3; i++) {
        await cp.resumeActor(golden, true);
        seen.push((await cp.suspendActor(golden)).latestSnapshot?.uri as string);
        const t = await resources.get(ActorTemplateType, "default", "g");
        await resources.updateStatus(ActorTemplateType, {
          ...t,
          status: { phase: "Ready", goldenActorID: golden.name, goldenSnapshot: seen[i] },
        });
      }
      await gc({ graceMs: 0 });
      assert.deepEqual(await Promise.all(seen.map(exists)), [false, true, true]);
      const t = await resources.get(ActorTemplateType, "default", "g");
      await resources.delete(ActorTemplateType, "default", t.metadata.name);
      const r = await gc({ graceMs: 0 });
      assert.deepEqual(await Promise.all(seen.map(exists)), [false, false, false]);
      assert.ok(r.recordsChanged >= 1);
      await assert.rejects(records.getActor("ate-golden", "default-g"), /not found/);
      assert.equal((await records.orphanedSnapshots()).length, 0);
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), "ate-gc-"));
after(() => rmSync(dir, { recursive: true, force: true }));
suite("file://", () => pathToFileURL(dir).href);

let s3: RunningS3 | undefined;
before(async () => {
  s3 = await startS3(["gc"]);
});
after(async () => {
  await s3?.stop();
});
suite("s3://", () => "s3://gc/prefix");
