// The shutdown's parts on the real control plane (no-op node agent): the golden controller's
// stop and the suspension of the node's actors (a golden actor stopped, not suspended).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HangingNodeAgent } from "../../test/support/hanging-node-agent.ts";
import { declareNoopPool } from "../../test/support/noop-pool.ts";
import { ActorTemplateType } from "../api/v1alpha1/index.ts";
import { systemClock } from "../clock/index.ts";
import { GoldenController, goldenActorId } from "../controller/index.ts";
import { ControlPlane, goldenAtespace, StaticNodeDirectory } from "../controlplane/index.ts";
import { jsonLogger } from "../log/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { suspendNodeActors } from "./shutdown.ts";

describe("shutting down", () => {
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new HangingNodeAgent();
  const lines: string[] = [];
  const logger = jsonLogger("info", (l) => lines.push(l));
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
  });
  const golden = { atespace: goldenAtespace, name: goldenActorId("default", "counter") };

  before(async () => {
    await declareNoopPool(resources, records, agent, { replicas: 2 });
  });
  after(async () => {
    await records.store.close();
    await resources.close();
  });

  it("the golden controller's stop aborts a boot under way and leaves its template to the next start", async () => {
    const controller = new GoldenController({
      resources,
      controlPlane: cp,
      clock: systemClock,
      logger,
    });
    agent.hanging = true;
    const hung = agent.nextHang();
    const pass = controller.reconcile();
    await hung;
    await controller.stop();
    await pass;
    agent.hanging = false;
    const actor = await cp.getActor(golden);
    assert.equal(actor.status, "SUSPENDED");
    assert.equal(actor.worker, undefined);
    assert.equal((await cp.listWorkers()).filter((w) => w.actor).length, 0, "workers free");
    const template = await resources.get(ActorTemplateType, "default", "counter");
    assert.equal(template.status?.phase, "ResumeGoldenActor", "unfinished, not Failed");
    assert.ok(
      lines.some((l) => l.includes("golden snapshot interrupted by shutdown")),
      lines.join("\n"),
    );
    assert.ok(!lines.some((l) => l.includes("golden snapshot failed")), lines.join("\n"));
    const runs = agent.calls.run;
    await controller.reconcile();
    assert.equal(agent.calls.run, runs, "no pass after stop");
  });

  it("stops a golden actor (no snapshot) and suspends the others", async () => {
    await cp.createAtespace("t");
    await cp.createActor({ atespace: "t", name: "a" }, "default", "counter");
    await cp.resumeActor({ atespace: "t", name: "a" });
    await cp.resumeActor(golden, true);
    const checkpoints = agent.calls.checkpoint;
    const result = await suspendNodeActors(cp, "n1", { logger });
    assert.deepEqual(result, {
      suspended: ["t/a"],
      stopped: [`${golden.atespace}/${golden.name}`],
      left: [],
    });
    assert.equal(agent.calls.checkpoint, checkpoints + 1, "one checkpoint: the actor's");
    assert.equal((await cp.getActor(golden)).latestSnapshot, undefined);
    assert.equal((await cp.listWorkers()).filter((w) => w.actor).length, 0);
  });
});
