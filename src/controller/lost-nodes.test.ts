// A node that stops heartbeating is declared lost once (two control planes on one store), its
// actors go back to their last external snapshot with the reason shown, its workers leave the
// records, and when it comes back it is told which sandboxes to tear down. No-op agents, a
// fake clock, the real control plane and records.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { actorTemplate, sandboxConfig, workerPool } from "../api/testing.ts";
import { ActorTemplateType, SandboxConfigType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { actorTable } from "../cli/record-printers.ts";
import { NodeRegistry } from "../controlplane/index.ts";
import { actorToWire } from "../controlplane/wire.ts";
import { Code, isAteError } from "../errors/index.ts";
import type { Actor } from "../records/index.ts";
import { PoolController } from "./pool-controller.ts";
import { testCluster } from "./testing.ts";

/** A committed snapshot's manifest (as the snapshots module reads it). */
const manifest = {
  formatVersion: 1,
  scope: "Data",
  actor: { atespace: "t", templateNamespace: "default", templateName: "counter", actorId: "x" },
  createdAt: "2026-01-01T00:00:00Z",
  arch: "amd64",
  sandboxClass: "gvisor",
  assets: {},
  images: {},
  workload: { containers: [] },
  snapshotFiles: [],
};

describe("a lost node", () => {
  let c: Awaited<ReturnType<typeof testCluster>>;
  let dir = "";
  let pools: PoolController;
  const ref = (name: string) => ({ atespace: "t", name });
  const actor = (id: string) => c.cp.getActor(ref(id));
  /** Time passes: n2 heartbeats, n1 does not. */
  const silence = async (ms: number) => {
    c.clock.advance(ms);
    await c.heartbeat("n2");
  };

  beforeEach(async () => {
    c = await testCluster([{ name: "n1" }]);
    pools = new PoolController({
      resources: c.resources,
      records: c.records,
      nodes: c.registry,
      actors: c.cp,
      logger: c.logger,
    });
    await c.resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
    await c.resources.create(ActorTemplateType, actorTemplate("counter"));
    await c.resources.create(WorkerPoolType, workerPool("a", { replicas: 6 }));
    await pools.reconcile();
    await c.cp.createAtespace("t");
    // On n1 (the only node yet): every state an actor can have there.
    for (const id of ["run", "fresh", "paused", "local", "busy", "committing"]) {
      await c.cp.createActor(ref(id), "default", "counter");
      await c.cp.resumeActor(ref(id));
    }
    for (const id of ["run", "paused", "local", "busy"]) {
      await c.cp.suspendActor(ref(id));
      await c.cp.resumeActor(ref(id));
    }
    await c.cp.pauseActor(ref("paused"));
    await c.cp.pauseActor(ref("local"));
    await c.cp.resumeActor(ref("local")); // RUNNING, resumed from its local snapshot
    // Two suspends under way elsewhere; one got as far as committing its snapshot.
    dir = mkdtempSync(join(tmpdir(), "ate-lost-"));
    const committed = pathToFileURL(join(dir, "snap")).href;
    mkdirSync(join(dir, "snap"));
    writeFileSync(join(dir, "snap", "manifest.json"), JSON.stringify(manifest));
    for (const id of ["busy", "committing"]) {
      const a = await actor(id);
      await c.records.updateActor({
        ...a,
        status: "SUSPENDING",
        ...(id === "committing" ? { inProgressSnapshot: committed } : {}),
        transition: {
          op: "suspend",
          owner: "elsewhere",
          expiresAt: c.clock.now().getTime() + 60_000,
          worker: a.worker?.name as string,
        },
      });
    }
    // n2 joins; an actor runs there too.
    await c.join({ name: "n2" });
    await pools.reconcile();
    await c.cp.createActor(ref("other"), "default", "counter");
    for (let i = 0; ; i++) {
      assert.ok(i < 20, "other resumes on n2");
      const other = await c.cp.resumeActor(ref("other"));
      if (other.worker?.node === "n2") break;
      await c.cp.suspendActor(ref("other"));
    }
  });
  afterEach(async () => {
    await c?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is declared lost once, though two control planes look at once", async () => {
    const second = new NodeRegistry({ records: c.records, clock: c.clock, dial: () => c.agent });
    assert.deepEqual(await c.registry.declareLostNodes(), [], "heartbeating: nothing lost");
    await silence(10_000);
    assert.deepEqual(await c.registry.declareLostNodes(), [], "not later than lostAfterMs");
    await silence(1);
    const declared = await Promise.all([c.registry.declareLostNodes(), second.declareLostNodes()]);
    assert.deepEqual(
      declared.flat(),
      ["n1"],
      `declared by exactly one: ${JSON.stringify(declared)}`,
    );
    assert.equal(
      c.warnings.filter((w) => w.startsWith("node lost")).length,
      1,
      "and logged by that one only",
    );
    const n1 = await c.records.getNode("n1");
    assert.equal(n1?.state, "Lost");
    assert.equal(n1?.lostAt, c.clock.now().toISOString());
    assert.deepEqual(
      (await c.registry.list()).map((n) => n.name),
      ["n2"],
    );
    assert.deepEqual(await c.registry.names(), ["n2"]);
    await assert.rejects(
      c.registry.get("n1").listWorkers(),
      (err) => isAteError(err, Code.Unavailable) && /node n1 was declared lost/.test(err.message),
    );
  });

  it("sends its actors back to their last external snapshot with the reason, and its workers go", async () => {
    const before = new Map<string, Actor>();
    for (const id of ["run", "fresh", "paused", "local", "busy", "committing", "other"])
      before.set(id, await actor(id));
    const external = (id: string) => {
      const a = before.get(id) as Actor;
      return a.latestSnapshot?.type === "EXTERNAL" ? a.latestSnapshot : a.lastExternalSnapshot;
    };
    assert.equal(before.get("paused")?.latestSnapshot?.type, "LOCAL");
    assert.equal(before.get("local")?.latestSnapshot?.type, "LOCAL");
    assert.equal(before.get("local")?.status, "RUNNING");
    const n1Workers = (await c.records.listWorkers()).filter((w) => w.node === "n1");

    await silence(10_001);
    await c.registry.declareLostNodes();
    for (const id of ["run", "fresh", "paused", "local"]) {
      const a = await actor(id);
      assert.equal(a.status, "SUSPENDED", id);
      assert.equal(a.worker, undefined, id);
      assert.equal(a.transition, undefined, id);
      assert.deepEqual(a.latestSnapshot, external(id), `${id}: at its last external snapshot`);
      assert.equal(a.lastExit?.reason, "NodeLost", id);
      assert.match(a.lastExit?.message ?? "", /node n1 stopped heartbeating/);
      assert.equal(a.lastExit?.at, (await c.records.getNode("n1"))?.lostAt);
    }
    assert.equal((await actor("fresh")).latestSnapshot, undefined, "none: from the golden one");
    assert.match((await actor("fresh")).lastExit?.message ?? "", /golden snapshot/);
    assert.equal((await actor("other")).status, "RUNNING", "an actor on n2 is left alone");
    assert.equal((await actor("busy")).status, "SUSPENDING", "its transition has not expired");
    const left = (await c.records.listWorkers()).filter((w) => w.node === "n1");
    assert.deepEqual(
      left.map((w) => w.name).sort(),
      [before.get("busy")?.worker?.name, before.get("committing")?.worker?.name].sort(),
      "every n1 worker record but the busy actors' is gone",
    );

    // Its transition expires: the next pass moves it too.
    await silence(60_000);
    await c.registry.declareLostNodes();
    const busy = await actor("busy");
    assert.equal(busy.status, "SUSPENDED");
    assert.deepEqual(busy.latestSnapshot, external("busy"));
    assert.equal(busy.lastExit?.reason, "NodeLost");
    const committing = await actor("committing");
    assert.equal(committing.status, "SUSPENDED");
    assert.deepEqual(
      committing.latestSnapshot,
      { type: "EXTERNAL", scope: "Data", uri: before.get("committing")?.inProgressSnapshot },
      "its suspend committed its snapshot before the node went: that is its last",
    );
    assert.equal(committing.snapshots?.at(-1), committing.latestSnapshot?.uri);
    assert.deepEqual(
      (await c.records.listWorkers()).filter((w) => w.node === "n1"),
      [],
    );
    assert.deepEqual(
      [...((await c.records.getNode("n1"))?.goneWorkers ?? [])].sort(),
      n1Workers.map((w) => w.name).sort(),
      "each removed worker named for when n1 comes back",
    );

    // Shown by `ate get actors -o wide` (through the Control API's message).
    const run = await actor("run");
    const wire = actorToWire(run);
    assert.equal(wire.lastExit?.reason, "NodeLost");
    assert.equal(wire.lastExit?.message, run.lastExit?.message);
    const table = actorTable([wire], true, new Date(Date.parse(run.lastExit?.at ?? "") + 60_000));
    assert.match(table, /\bNodeLost 60s\b/);

    // n1 comes back: Ready, told to tear down the removed workers' sandboxes.
    const back = await c.join({ name: "n1" });
    assert.deepEqual(back.staleWorkers.sort(), n1Workers.map((w) => w.name).sort());
    const n1 = await c.records.getNode("n1");
    assert.equal(n1?.state, "Ready");
    assert.equal(n1?.goneWorkers, undefined);
    assert.deepEqual((await c.registry.list()).map((n) => n.name).sort(), ["n1", "n2"]);

    // The pool controller clears n1's leftover sandboxes; the moved actors resume anywhere.
    await pools.reconcile();
    for (const id of ["run", "paused"])
      assert.equal((await c.cp.resumeActor(ref(id))).status, "RUNNING");
    const known = new Set((await c.records.listWorkers()).map((w) => w.name));
    for (const w of await c.agent.listWorkers())
      assert.ok(known.has(w.name), `n1 keeps no sandbox without a record (${w.name})`);
    assert.equal((await c.pool("a")).status?.replicas, 6);
  });

  it("stops its release the moment it registers again: workers still recorded stay its own", async () => {
    await silence(10_001);
    await c.registry.declareLostNodes();
    const busy = await actor("busy");
    const back = await c.join({ name: "n1" });
    assert.ok(!back.staleWorkers.includes(busy.worker?.name as string), "kept: still its own");
    await silence(60_000);
    await c.heartbeat("n1");
    await c.registry.declareLostNodes();
    assert.equal((await actor("busy")).status, "SUSPENDING", "not moved: n1 is back");
    assert.ok(
      (await c.records.listWorkers()).some((w) => w.name === busy.worker?.name),
      "its worker record stays",
    );
  });
});
