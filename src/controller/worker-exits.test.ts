// Sandboxes that stop on their own (past their memory limit, their process ended): the pool
// controller sends their actors back to their last snapshot, with the reason, and frees the
// worker. The real control plane and records, on a node agent that does no sandbox work.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { actorTemplate, sandboxConfig, workerPool } from "../api/testing.ts";
import { ActorTemplateType, SandboxConfigType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { PoolController } from "./pool-controller.ts";
import { testNode } from "./testing.ts";

describe("a sandbox that stops on its own", () => {
  let n: Awaited<ReturnType<typeof testNode>>;
  let controller: PoolController;
  const ref = (name: string) => ({ atespace: "t", name });
  const workerOf = async (id: string) => (await n.cp.getActor(ref(id))).worker?.name ?? "";

  beforeEach(async () => {
    n = await testNode();
    controller = new PoolController({
      resources: n.resources,
      records: n.records,
      nodes: n.registry,
      actors: n.cp,
      logger: n.logger,
    });
    await n.resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
    await n.resources.create(ActorTemplateType, actorTemplate("counter"));
    await n.resources.create(WorkerPoolType, workerPool("a", { replicas: 3 }));
    await controller.reconcile();
    await n.cp.createAtespace("t");
    for (const id of ["hog", "calm"]) {
      await n.cp.createActor(ref(id), "default", "counter");
      await n.cp.resumeActor(ref(id));
    }
  });
  afterEach(async () => {
    await n?.close();
  });

  it("sends its actor back to its last committed snapshot with the reason, and frees the worker", async () => {
    await n.cp.suspendActor(ref("hog"));
    const committed = (await n.cp.getActor(ref("hog"))).latestSnapshot;
    assert.equal(committed?.type, "EXTERNAL");
    await n.cp.resumeActor(ref("hog"));
    const worker = await workerOf("hog");
    const exit = await n.agent.exit(worker, { exitCode: 137 });

    await controller.reconcile();
    const hog = await n.cp.getActor(ref("hog"));
    assert.equal(hog.status, "SUSPENDED");
    assert.deepEqual(hog.latestSnapshot, committed, "at its last committed snapshot");
    assert.equal(hog.worker, undefined);
    assert.equal(hog.transition, undefined);
    assert.deepEqual(hog.lastExit, {
      reason: "OOMKilled",
      message: "the sandbox went past its memory limit of 128Mi",
      at: exit.at,
      exitCode: 137,
    });
    const freed = (await n.workersOf("a")).find((w) => w.name === worker);
    assert.equal(freed?.actor, undefined, "its worker is free (and kept)");
    assert.equal((await n.cp.getActor(ref("calm"))).status, "RUNNING", "others carry on");
    assert.ok(
      n.warnings.includes("actor's sandbox stopped on its own; actor back at its last snapshot"),
    );

    // Idempotent: another pass (the node still reports the exit) changes nothing.
    await controller.reconcile();
    assert.equal((await n.cp.getActor(ref("hog"))).version, hog.version);

    const again = await n.cp.resumeActor(ref("hog"));
    assert.equal(again.status, "RUNNING", "it resumes from its snapshot");
    assert.deepEqual(again.lastExit, hog.lastExit, "the last exit stays on record");
    await controller.reconcile();
    assert.equal((await n.cp.getActor(ref("hog"))).status, "RUNNING", "a new run is not an exit");
  });

  it("with no snapshot the actor starts afresh; with a local one it goes back to PAUSED", async () => {
    await n.agent.exit(await workerOf("hog"), { reason: "Exited", message: "exit 1", exitCode: 1 });
    await n.cp.pauseActor(ref("calm"));
    await n.cp.resumeActor(ref("calm"));
    const local = (await n.cp.getActor(ref("calm"))).latestSnapshot;
    assert.equal(local?.type, "LOCAL");
    await n.agent.exit(await workerOf("calm"), { reason: "Killed", message: "killed" });
    await controller.reconcile();
    const hog = await n.cp.getActor(ref("hog"));
    assert.equal(hog.status, "SUSPENDED");
    assert.equal(hog.latestSnapshot, undefined, "none: its template's golden snapshot next");
    assert.equal(hog.lastExit?.reason, "Exited");
    assert.equal(hog.lastExit?.exitCode, 1);
    const calm = await n.cp.getActor(ref("calm"));
    assert.equal(calm.status, "PAUSED");
    assert.deepEqual(calm.latestSnapshot, local);
    assert.equal(calm.lastExit?.reason, "Killed");
    assert.ok(
      (await n.workersOf("a")).every((w) => !w.actor),
      "every worker free",
    );
  });

  it("leaves an actor in a transition to it, and an exit of another actor alone", async () => {
    const worker = await workerOf("hog");
    await n.agent.exit(worker);
    const running = await n.cp.getActor(ref("hog"));
    const busy = await n.records.updateActor({
      ...running,
      transition: { op: "suspend", owner: "elsewhere", expiresAt: Date.now() + 60_000 },
    });
    await controller.reconcile();
    assert.equal((await n.cp.getActor(ref("hog"))).version, busy.version, "untouched");
    // Its transition ends (rolled back): the next pass sends it back.
    const { transition: _t, ...settled } = busy;
    await n.records.updateActor(settled);
    await controller.reconcile();
    assert.equal((await n.cp.getActor(ref("hog"))).status, "SUSPENDED");

    // An exit reported for an actor the worker's record no longer holds: nothing to do.
    const calmWorker = await workerOf("calm");
    const exit = await n.agent.exit(calmWorker);
    n.agent.exits.set(calmWorker, { ...exit, actor: { ...exit.actor, actorId: "someone-else" } });
    await controller.reconcile();
    assert.equal((await n.cp.getActor(ref("calm"))).status, "RUNNING");
  });

  it("does not send back an actor that ran again between the node's answer and the records", async () => {
    // Only the worker that exits is left to resume on.
    const pool = await n.pool("a");
    await n.resources.update(WorkerPoolType, { ...pool, spec: { ...pool.spec, replicas: 2 } });
    await controller.reconcile();
    const worker = await workerOf("hog");
    await n.agent.exit(worker);
    // The race: the pass hears of the exit; then, before it reads the records, the actor goes
    // back and runs again on the same worker (which clears the exit on the node).
    n.agent.afterNextList = async () => {
      const { worker: _w, ...rest } = await n.cp.getActor(ref("hog"));
      const w = (await n.workersOf("a")).find((x) => x.name === worker);
      if (!w) throw new Error("worker gone");
      await n.records.releaseWorker(w, { ...rest, status: "SUSPENDED" });
      const back = await n.cp.resumeActor(ref("hog"));
      assert.equal(back.worker?.name, worker, "resumed on the same worker (the test's premise)");
    };
    await controller.reconcile();
    assert.equal(n.agent.afterNextList, undefined, "the race happened");
    const hog = await n.cp.getActor(ref("hog"));
    assert.equal(hog.status, "RUNNING", "the new run stays");
    assert.equal(hog.worker?.name, worker);
    assert.equal(hog.lastExit, undefined);
  });
});
