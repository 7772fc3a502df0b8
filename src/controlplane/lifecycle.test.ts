// Lifecycle paths that must not strand an actor: its template deleted while it runs, records
// written by older versions, stopping without a checkpoint, and a shutdown's stop of resumes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HangingNodeAgent } from "../../test/support/hanging-node-agent.ts";
import { declareNoopPool } from "../../test/support/noop-pool.ts";
import { actorTemplate } from "../api/testing.ts";
import { ActorTemplateType } from "../api/v1alpha1/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { ControlPlane } from "./control-plane.ts";
import { StaticNodeDirectory } from "./nodes.ts";

describe("actor lifecycle without its template", () => {
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new HangingNodeAgent();
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
    fallbackSnapshotLocation: "file:///fallback/snapshots",
  });
  const ref = (name: string) => ({ atespace: "t", name });
  const location = "file:///tpl/snapshots";
  const declareTemplate = (name: string) =>
    resources.create(ActorTemplateType, actorTemplate(name, { snapshotsConfig: { location } }));
  const deleteTemplate = (name: string) => resources.delete(ActorTemplateType, "default", name);

  before(async () => {
    await declareNoopPool(resources, records, agent, { replicas: 2 });
    await cp.createAtespace("t");
  });
  after(async () => {
    await records.store.close();
    await resources.close();
  });

  it("suspends, pauses and deletes an actor whose template was deleted while it ran", async () => {
    await declareTemplate("gone");
    await cp.createActor(ref("a"), "default", "gone");
    const running = await cp.resumeActor(ref("a"));
    assert.deepEqual(
      running.snapshotsConfig,
      { location, onCommit: "Full", onPause: "Full" }, // with the template's defaults
      "recorded at resume",
    );
    await deleteTemplate("gone");

    const suspended = await cp.suspendActor(ref("a"));
    assert.equal(suspended.status, "SUSPENDED");
    assert.ok(suspended.latestSnapshot?.uri.startsWith(`${location}/t/a/`));

    await assert.rejects(
      cp.resumeActor(ref("a")),
      (e) =>
        isAteError(e, Code.FailedPrecondition) &&
        /^ActorTemplate default\/gone no longer exists: /.test(e.message),
    );
    const after = await cp.getActor(ref("a"));
    assert.equal(after.status, "SUSPENDED", "a refused resume changes nothing");
    assert.equal(after.worker, undefined);
    assert.equal((await cp.listWorkers()).filter((w) => w.actor).length, 0);
    await cp.deleteActor(ref("a"));
  });

  it("pauses an actor whose template is gone", async () => {
    await declareTemplate("gone2");
    await cp.createActor(ref("p"), "default", "gone2");
    await cp.resumeActor(ref("p"));
    await deleteTemplate("gone2");
    const paused = await cp.pauseActor(ref("p"));
    assert.equal(paused.status, "PAUSED");
    assert.equal(paused.latestSnapshot?.type, "LOCAL");
    await declareTemplate("gone2");
    await cp.resumeActor(ref("p"));
    await cp.suspendActor(ref("p"));
  });

  it("suspends records from older versions (no recorded config) without their template", async () => {
    await declareTemplate("old");
    await cp.createActor(ref("o1"), "default", "old");
    await cp.createActor(ref("o2"), "default", "old");
    // o1 suspended once before (its snapshots' location is known), o2 never did.
    await cp.resumeActor(ref("o1"));
    await cp.suspendActor(ref("o1"));
    for (const id of ["o1", "o2"]) {
      const a = await cp.resumeActor(ref(id));
      const { snapshotsConfig: _c, ...older } = a;
      await records.updateActor(older);
    }
    await deleteTemplate("old");
    const o1 = await cp.suspendActor(ref("o1"));
    assert.ok(o1.latestSnapshot?.uri.startsWith(`${location}/t/o1/`), o1.latestSnapshot?.uri);
    const o2 = await cp.suspendActor(ref("o2"));
    assert.ok(
      o2.latestSnapshot?.uri.startsWith("file:///fallback/snapshots/t/o2/"),
      o2.latestSnapshot?.uri,
    );
  });

  it("reconciles an interrupted suspend of an actor whose template is gone", async () => {
    await declareTemplate("gone3");
    await cp.createActor(ref("r"), "default", "gone3");
    const running = await cp.resumeActor(ref("r"));
    await deleteTemplate("gone3");
    // A suspend whose owner died before its snapshot was written.
    await records.updateActor({
      ...running,
      status: "SUSPENDING",
      inProgressSnapshot: `${location}/t/r/never-written`,
      transition: { op: "suspend", owner: "dead", expiresAt: 0, worker: running.worker?.name },
    });
    assert.equal(await cp.reconcile(), 1);
    const back = await cp.getActor(ref("r"));
    assert.equal(back.status, "RUNNING", "its sandbox still runs");
    assert.equal(back.transition, undefined);
    assert.equal((await cp.suspendActor(ref("r"))).status, "SUSPENDED");
  });

  it("stops an actor without a checkpoint: back at its last snapshot, worker free", async () => {
    await cp.createActor(ref("s"), "default", "counter");
    await cp.resumeActor(ref("s"));
    const first = (await cp.suspendActor(ref("s"))).latestSnapshot;
    await cp.resumeActor(ref("s"));
    const checkpoints = agent.calls.checkpoint;
    const stopped = await cp.stopActor(ref("s"));
    assert.equal(stopped.status, "SUSPENDED");
    assert.deepEqual(stopped.latestSnapshot, first);
    assert.equal(stopped.snapshots?.length, 1);
    assert.equal(agent.calls.checkpoint, checkpoints, "no checkpoint taken");
    assert.equal((await cp.listWorkers()).filter((w) => w.actor).length, 0);
    assert.equal((await cp.stopActor(ref("s"))).version, stopped.version, "idempotent");
  });

  it("at shutdown aborts resumes under way (rolled back) and refuses new ones, then everything", async () => {
    await cp.createActor(ref("boot"), "default", "counter");
    await cp.createActor(ref("late"), "default", "counter");
    await cp.createActor(ref("up"), "default", "counter");
    await cp.resumeActor(ref("up"));
    agent.hanging = true;
    const started = agent.nextHang();
    const booting = cp.resumeActor(ref("boot"));
    const failed = assert.rejects(booting, (e) => isAteError(e, Code.Unavailable));
    await started;
    await cp.stopResumes();
    await failed;
    const boot = await cp.getActor(ref("boot"));
    assert.equal(boot.status, "SUSPENDED");
    assert.equal(boot.transition, undefined);
    assert.equal(
      (await cp.listWorkers()).filter((w) => w.actor?.actorId === "boot").length,
      0,
      "its worker is free",
    );
    await assert.rejects(
      cp.resumeActor(ref("late")),
      (e) => isAteError(e, Code.Unavailable) && /shutting down/.test(e.message),
    );
    // Suspends still run until the close.
    assert.equal((await cp.suspendActor(ref("up"))).status, "SUSPENDED");
    await cp.close();
    await assert.rejects(cp.suspendActor(ref("up")), (e) => isAteError(e, Code.Unavailable));
    agent.hanging = false;
  });
});
