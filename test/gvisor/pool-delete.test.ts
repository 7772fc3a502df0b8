// Deleting a WorkerPool with actors on its workers, with real gvisor sandboxes: the running
// actor is suspended (state kept) before its worker goes and resumes on another pool's worker;
// a paused actor keeps its snapshot on the node and resumes there on another pool's worker.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { workerPool } from "../../src/api/testing.ts";
import { WorkerPoolType } from "../../src/api/v1alpha1/index.ts";
import { systemClock } from "../../src/clock/index.ts";
import { GoldenController, PoolController } from "../../src/controller/index.ts";
import { ControlPlane, StaticNodeDirectory } from "../../src/controlplane/index.ts";
import { silentLogger } from "../../src/log/index.ts";
import { NodeAgent } from "../../src/node/index.ts";
import { Records, SqliteRecordStore } from "../../src/records/index.ts";
import { SqliteResourceStore } from "../../src/resources/index.ts";
import { GvisorDriver } from "../../src/sandbox/index.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { applyCounterSetup, waitForGolden } from "../support/counter-resources.ts";
import { getJson } from "../support/http.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

describe("deleting a worker pool with gvisor workers", { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-pool-delete-"));
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new NodeAgent({
    stateDir: join(dir, "node"),
    drivers: [
      new GvisorDriver({
        stateDir: join(dir, "node"),
        network: { prefix: "atep", subnetBase: 220 },
      }),
    ],
  });
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ "node-1": agent }),
  });
  const pools = new PoolController({
    resources,
    records,
    nodes: new StaticNodeDirectory({ "node-1": agent }),
    actors: cp,
    logger: silentLogger,
  });
  const golden = new GoldenController({
    resources,
    controlPlane: cp,
    clock: systemClock,
    logger: silentLogger,
  });
  let registry: RunningRegistry;
  const ref = (name: string) => ({ atespace: "demo", name });
  const hit = async (name: string) => {
    const actor = await cp.getActor(ref(name));
    return getJson<{ memory: number; file: number; actor: string }>(
      `http://${actor.worker?.address}:8080/count`,
    );
  };

  before(async () => {
    registry = await startRegistry();
    const image = await pushCounterImage(registry.host);
    await applyCounterSetup(resources, {
      image,
      snapshotsDir: join(dir, "snapshots"),
      replicas: 2,
    });
    await pools.reconcile();
    await golden.reconcile();
    await waitForGolden(resources, ["counter"]);
    await cp.createAtespace("demo");
  });

  after(async () => {
    for (const w of await agent.listWorkers()) await agent.deleteWorker(w.name).catch(() => {});
    await registry?.stop();
    await resources.close();
    await records.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("suspends the running actor, keeps the paused one, and both resume on another pool with their state", async () => {
    for (const id of ["run", "paused"]) {
      await cp.createActor(ref(id), "default", "counter");
      const a = await cp.resumeActor(ref(id));
      assert.equal(a.worker?.pool, "pool");
    }
    assert.deepEqual(await hit("run"), { memory: 1, file: 1, actor: "run" });
    assert.deepEqual(await hit("run"), { memory: 2, file: 2, actor: "run" });
    assert.deepEqual(await hit("paused"), { memory: 1, file: 1, actor: "paused" });
    await cp.pauseActor(ref("paused"));

    await resources.create(
      WorkerPoolType,
      workerPool("second", { replicas: 2, ateomImage: "local" }),
    );
    await pools.reconcile();
    await resources.delete(WorkerPoolType, "default", "pool");
    await pools.reconcile();

    const run = await cp.getActor(ref("run"));
    assert.equal(run.status, "SUSPENDED", "suspended before its worker was removed");
    assert.equal(run.latestSnapshot?.type, "EXTERNAL");
    const paused = await cp.getActor(ref("paused"));
    assert.equal(paused.status, "PAUSED");
    assert.deepEqual(paused.latestSnapshot?.nodes, ["node-1"]);
    assert.deepEqual(
      (await cp.listWorkers()).map((w) => w.pool),
      ["second", "second"],
      "the deleted pool's workers are gone",
    );
    assert.equal((await agent.listWorkers()).length, 2, "from the node too");

    for (const id of ["run", "paused"]) {
      const back = await cp.resumeActor(ref(id));
      assert.equal(back.worker?.pool, "second", `${id} resumed on the other pool`);
    }
    assert.deepEqual(await hit("run"), { memory: 3, file: 3, actor: "run" });
    assert.deepEqual(await hit("paused"), { memory: 2, file: 2, actor: "paused" });
    for (const id of ["run", "paused"]) await cp.suspendActor(ref(id));
  });
});
