// Data-scope templates without a cold boot: their golden snapshot is taken Full, and their
// actors resume from it with their own data laid in (a restore with a base), on a node agent
// that only records what it is asked.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { declareNoopPool } from "../../test/support/noop-pool.ts";
import { actorTemplate } from "../api/testing.ts";
import { ActorTemplateType } from "../api/v1alpha1/index.ts";
import { systemClock } from "../clock/index.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { silentLogger } from "../log/index.ts";
import type { CheckpointRequest, CheckpointResult, RestoreRequest } from "../node/index.ts";
import { goldenActorId, goldenAtespace } from "../node/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { GoldenController } from "./index.ts";

class RecordingAgent extends NoopNodeAgent {
  readonly restores: RestoreRequest[] = [];
  readonly checkpoints: CheckpointRequest[] = [];
  override restore(req: RestoreRequest) {
    this.restores.push(req);
    return super.restore(req);
  }
  override checkpoint(req: CheckpointRequest): Promise<CheckpointResult> {
    this.checkpoints.push(req);
    return super.checkpoint(req);
  }
}

describe("resume of a Data-scope template's actors", () => {
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new RecordingAgent();
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
  });
  const ref = (name: string) => ({ atespace: "t", name });
  const location = "file:///tpl/snapshots";
  let golden = "";

  before(async () => {
    await declareNoopPool(resources, records, agent, { replicas: 2 });
    await resources.create(
      ActorTemplateType,
      actorTemplate("data", { snapshotsConfig: { location, onCommit: "Data" } }),
    );
    const counter = await resources.get(ActorTemplateType, "default", "counter");
    await resources.updateStatus(ActorTemplateType, { ...counter, status: { phase: "Failed" } });
    await new GoldenController({
      resources,
      controlPlane: cp,
      clock: systemClock,
      logger: silentLogger,
      warmupMs: 0,
    }).reconcile();
    await cp.createAtespace("t");
  });
  after(async () => {
    await records.store.close();
    await resources.close();
  });

  it("takes the golden snapshot Full, whatever the template's onCommit", async () => {
    const status = (await resources.get(ActorTemplateType, "default", "data")).status;
    assert.equal(status?.phase, "Ready");
    golden = status?.goldenSnapshot ?? "";
    const id = goldenActorId("default", "data");
    const taken = agent.checkpoints.find((c) => c.actor.actorId === id);
    assert.equal(taken?.scope, "Full");
    const record = await cp.getActor({ atespace: goldenAtespace, name: id });
    assert.deepEqual(record.latestSnapshot, { type: "EXTERNAL", scope: "Full", uri: golden });
  });

  it("starts a new actor from the golden as base, and resumes it from its data on the golden", async () => {
    await cp.createActor(ref("a"), "default", "data");
    await cp.resumeActor(ref("a"));
    assert.deepEqual(agent.restores.at(-1), {
      worker: agent.restores.at(-1)?.worker,
      actor: { atespace: "t", templateNamespace: "default", templateName: "data", actorId: "a" },
      source: golden,
      scope: "Data",
      origin: "golden",
      base: golden,
    });
    const suspended = await cp.suspendActor(ref("a"));
    assert.equal(agent.checkpoints.at(-1)?.scope, "Data", "the actor's own snapshots stay Data");
    await cp.resumeActor(ref("a"));
    const last = agent.restores.at(-1);
    assert.equal(last?.source, suspended.latestSnapshot?.uri);
    assert.equal(last?.scope, "Data");
    assert.equal(last?.origin, "own");
    assert.equal(last?.base, golden);
    await cp.suspendActor(ref("a"));
  });

  it("sends no base for a Full snapshot, nor without a Ready golden", async () => {
    // "counter" (onCommit Full) has no golden here: its actor boots, then restores Full.
    await cp.createActor(ref("f"), "default", "counter");
    await cp.resumeActor(ref("f"));
    await cp.suspendActor(ref("f"));
    await cp.resumeActor(ref("f"));
    assert.equal(agent.restores.at(-1)?.scope, "Full");
    assert.equal(agent.restores.at(-1)?.base, undefined);
    await cp.suspendActor(ref("f"));
  });
});
