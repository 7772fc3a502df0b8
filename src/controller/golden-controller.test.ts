// The golden controller with the real control plane and records, on a node agent that does no
// sandbox work: when the template's pool is full, an idle actor on it makes room.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { actorTemplate, sandboxConfig, workerPool } from "../api/testing.ts";
import { ActorTemplateType, SandboxConfigType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { systemClock } from "../clock/index.ts";
import { ActivityController, ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { silentLogger } from "../log/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { GoldenController } from "./golden-controller.ts";
import { PoolController } from "./pool-controller.ts";

describe("golden controller on a full pool", () => {
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new NoopNodeAgent();
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
  });
  // Decides which idle actor makes room (from routers' reports; none here: all are idle).
  const activity = new ActivityController({ controlPlane: cp, resources });
  const ref = (name: string) => ({ atespace: "t", name });
  const phase = async (name: string) =>
    (await resources.get(ActorTemplateType, "default", name)).status;

  before(async () => {
    await resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
    for (const tier of ["main", "other"]) {
      const pool = workerPool(tier, { replicas: 1 });
      pool.metadata.labels = { tier };
      await resources.create(WorkerPoolType, pool);
      await resources.create(
        ActorTemplateType,
        actorTemplate(tier, { workerSelector: { matchLabels: { tier } } }),
      );
    }
    await new PoolController({
      resources,
      records,
      nodes: new StaticNodeDirectory({ n1: agent }),
      logger: silentLogger,
    }).reconcile();
    // Only "main" needs its golden snapshot here.
    const other = await resources.get(ActorTemplateType, "default", "other");
    await resources.updateStatus(ActorTemplateType, { ...other, status: { phase: "Ready" } });
    await cp.createAtespace("t");
    await cp.createActor(ref("m"), "default", "main");
    await cp.createActor(ref("o"), "default", "other");
    await cp.resumeActor(ref("m"));
    await cp.resumeActor(ref("o"));
  });
  after(async () => {
    await records.store.close();
    await resources.close();
  });

  it("fails 'no free worker' without an evictor", async () => {
    await new GoldenController({
      resources,
      controlPlane: cp,
      clock: systemClock,
      logger: silentLogger,
      warmupMs: 0,
    }).reconcile();
    const status = await phase("main");
    assert.equal(status?.phase, "Failed");
    assert.match(status?.conditions?.[0]?.message ?? "", /no free worker/);
  });

  it("suspends the idle actor on the pool it needs, not the one on another pool", async () => {
    await new GoldenController({
      resources,
      controlPlane: cp,
      clock: systemClock,
      logger: silentLogger,
      warmupMs: 0,
      retryMs: 0,
      evictor: activity,
    }).reconcile();
    const status = await phase("main");
    assert.equal(status?.phase, "Ready", JSON.stringify(status));
    assert.equal((await cp.getActor(ref("m"))).status, "SUSPENDED", "state kept in a snapshot");
    assert.ok((await cp.getActor(ref("m"))).latestSnapshot);
    assert.equal((await cp.getActor(ref("o"))).status, "RUNNING");
  });
});
