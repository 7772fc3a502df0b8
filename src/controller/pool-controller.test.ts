// The pool controller with the real control plane and records, on a node agent that does no
// sandbox work: node capacity, and what deleting a pool does to the actors on its workers.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { actorTemplate, sandboxConfig, workerPool } from "../api/testing.ts";
import { ActorTemplateType, SandboxConfigType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { AteError, Code } from "../errors/index.ts";
import { PoolController } from "./pool-controller.ts";
import { testNode } from "./testing.ts";

describe("pool capacity", () => {
  it("refuses a pool that does not fit, saying why in its status, and leaves other pools alone", async () => {
    const n = await testNode({ workers: 4 });
    try {
      const controller = new PoolController({
        resources: n.resources,
        records: n.records,
        nodes: n.registry,
        actors: n.cp,
        logger: n.logger,
      });
      await n.resources.create(WorkerPoolType, workerPool("small", { replicas: 2 }));
      await controller.reconcile();
      await n.resources.create(WorkerPoolType, workerPool("huge", { replicas: 100_000 }));
      await controller.reconcile();
      const huge = await n.pool("huge");
      assert.equal((await n.workersOf("huge")).length, 0, "not one worker created");
      assert.equal(huge.status?.replicas, 0);
      const condition = huge.status?.conditions?.[0];
      assert.equal(condition?.type, "ReplicaFailure");
      assert.equal(condition?.status, "True");
      assert.equal(condition?.reason, "InsufficientNodeCapacity");
      assert.equal(
        condition?.message,
        "spec.replicas 100000 does not fit on node n1: it holds at most 4 workers (--max-workers 4) and 2 of them belong to other pools, so at most 2 fit: lower spec.replicas, or remove workers from other pools",
      );
      assert.deepEqual(n.warnings, ["worker pool does not fit on this node"]);
      const small = await n.pool("small");
      assert.deepEqual(small.status, { replicas: 2 }, "the other pool is unaffected");
      assert.equal((await n.workersOf("small")).length, 2);

      await controller.reconcile();
      assert.equal(
        (await n.pool("huge")).metadata.resourceVersion,
        huge.metadata.resourceVersion,
        "an unchanged refusal is not written again",
      );
      assert.equal(n.warnings.length, 1, "nor logged again");

      await n.resources.update(WorkerPoolType, { ...huge, spec: { ...huge.spec, replicas: 2 } });
      await controller.reconcile();
      assert.deepEqual((await n.pool("huge")).status, { replicas: 2 }, "fits now: condition gone");
      assert.equal((await n.agent.listWorkers()).length, 4);
    } finally {
      await n.close();
    }
  });
});

describe("deleting a worker pool", () => {
  let n: Awaited<ReturnType<typeof testNode>>;
  let controller: PoolController;
  const ref = (name: string) => ({ atespace: "t", name });

  beforeEach(async () => {
    n = await testNode({ workers: 8 });
    controller = new PoolController({
      resources: n.resources,
      records: n.records,
      nodes: n.registry,
      actors: n.cp,
      logger: n.logger,
    });
    await n.resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
    await n.resources.create(ActorTemplateType, actorTemplate("counter"));
    await n.resources.create(WorkerPoolType, workerPool("a", { replicas: 2 }));
    await controller.reconcile();
    await n.cp.createAtespace("t");
    for (const id of ["run", "paused"]) {
      await n.cp.createActor(ref(id), "default", "counter");
      await n.cp.resumeActor(ref(id));
    }
    await n.cp.pauseActor(ref("paused"));
    // "run" has a committed snapshot, and runs again (on pool a: the only one yet).
    await n.cp.suspendActor(ref("run"));
    await n.cp.resumeActor(ref("run"));
    await n.resources.create(WorkerPoolType, workerPool("b", { replicas: 2 }));
    await controller.reconcile();
  });
  afterEach(async () => {
    await n?.close();
  });

  it("suspends the actors running on its workers (state kept), then removes the workers", async () => {
    const running = await n.cp.getActor(ref("run"));
    assert.equal(running.worker?.pool, "a");
    await n.resources.delete(WorkerPoolType, "default", "a");
    await controller.reconcile();
    const run = await n.cp.getActor(ref("run"));
    assert.equal(run.status, "SUSPENDED");
    assert.equal(run.latestSnapshot?.type, "EXTERNAL", "suspended to snapshot storage");
    assert.match(run.latestSnapshot?.uri ?? "", /\/t\/run\//);
    assert.deepEqual(await n.workersOf("a"), [], "the pool's workers are gone");
    assert.ok(
      (await n.agent.listWorkers()).every((w) => !w.name.startsWith("a-")),
      "from the node too",
    );
    const paused = await n.cp.getActor(ref("paused"));
    assert.equal(paused.status, "PAUSED", "a paused actor keeps its snapshot on the node");
    for (const id of ["run", "paused"]) {
      const back = await n.cp.resumeActor(ref(id));
      assert.equal(back.status, "RUNNING");
      assert.equal(back.worker?.pool, "b", `${id} resumes on another pool's worker`);
    }
  });

  it("stops an actor that cannot be suspended and returns it to its last snapshot, saying so", async () => {
    const committed = (await n.cp.getActor(ref("run"))).latestSnapshot;
    assert.equal(committed?.type, "EXTERNAL");
    const failing = new PoolController({
      resources: n.resources,
      records: n.records,
      nodes: n.registry,
      actors: {
        suspendActor: async () => {
          throw new AteError(Code.Internal, "checkpoint failed: disk full");
        },
      },
      logger: n.logger,
    });
    await n.resources.delete(WorkerPoolType, "default", "a");
    await failing.reconcile();
    const run = await n.cp.getActor(ref("run"));
    assert.equal(run.status, "SUSPENDED");
    assert.deepEqual(run.latestSnapshot, committed, "back at its last committed snapshot");
    assert.equal(run.worker, undefined);
    assert.deepEqual(await n.workersOf("a"), []);
    assert.ok(
      n.warnings.includes(
        "actor stopped and returned to its last snapshot: its worker's pool was deleted and suspending it failed",
      ),
      n.warnings.join("; "),
    );
  });
});
