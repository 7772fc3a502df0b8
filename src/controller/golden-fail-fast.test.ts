// Templates nothing can run fail at once, with no boot, and go on when that changes: the golden
// controller with the real control plane and records, over registered no-op nodes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { actorTemplate, sandboxConfig, sha, workerPool } from "../api/testing.ts";
import { ActorTemplateType, SandboxConfigType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { goldenDefaults } from "./golden-controller.ts";
import { controllerPass, testCluster } from "./testing.ts";

const microvmAssets = Object.fromEntries(
  ["cloud-hypervisor", "kata-config", "kata-image", "kata-kernel", "virtiofsd"].map((name) => [
    name,
    { url: `file:///opt/${name}`, sha256: sha("d") },
  ]),
);

describe("golden controller: templates nothing can run", async () => {
  const c = await testCluster([{ name: "n1" }]); // gvisor, amd64
  const template = (name: string) => c.resources.get(ActorTemplateType, "default", name);
  const boots = () =>
    [...c.agents.values()].reduce((sum, a) => sum + a.calls.run + a.calls.restore, 0);
  const pass = controllerPass(c);

  before(async () => {
    await c.resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
    await c.resources.create(
      SandboxConfigType,
      sandboxConfig("vm", {
        sandboxClass: "microvm",
        default: true,
        assets: { amd64: microvmAssets },
      }),
    );
    await c.resources.create(
      SandboxConfigType,
      sandboxConfig("arm", {
        assets: { arm64: { runsc: { url: "file:///opt/runsc", sha256: sha("e") } } },
      }),
    );
    await c.resources.create(WorkerPoolType, workerPool("main", { replicas: 1 }));
    const vm = workerPool("vm", { replicas: 1, sandboxClass: "microvm" });
    vm.metadata.labels = { tier: "vm" };
    await c.resources.create(WorkerPoolType, vm);
    const arm = workerPool("arm", { replicas: 1, sandboxConfigName: "arm" });
    arm.metadata.labels = { tier: "arm" };
    await c.resources.create(WorkerPoolType, arm);
  });
  after(() => c.close());

  it("fails a microvm template at once, saying why and what to do, with no boot", async () => {
    await c.resources.create(ActorTemplateType, actorTemplate("vm", { sandboxClass: "microvm" }));
    await pass();
    const status = (await template("vm")).status;
    assert.equal(status?.phase, "Failed");
    const condition = status?.conditions?.[0];
    assert.equal(condition?.type, "Ready");
    assert.equal(condition?.status, "False");
    assert.equal(condition?.reason, "NoSuitableNode");
    assert.equal(
      condition?.message,
      "no live node offers spec.sandboxClass microvm; the live nodes are n1 (gvisor; amd64): start a node agent that offers microvm, or delete the template and apply it again with a sandboxClass they offer",
    );
    assert.equal(boots(), 0, "no boot attempted");
  });

  it("fails a template whose pools need an architecture no node has", async () => {
    await c.resources.create(
      ActorTemplateType,
      actorTemplate("arm", { workerSelector: { matchLabels: { tier: "arm" } } }),
    );
    await pass();
    const condition = (await template("arm")).status?.conditions?.[0];
    assert.equal(condition?.reason, "NoSuitableNode");
    assert.match(
      condition?.message ?? "",
      /^no live node can run the pools this template selects: WorkerPool default\/arm \(sandboxClass gvisor, arch arm64 \(its SandboxConfig's assets\)\); the live nodes are n1 \(gvisor; amd64\): start a node agent/,
    );
    assert.equal(boots(), 0);
  });

  it("fails a gs:// snapshot location at once, with no boot", async () => {
    await c.resources.create(
      ActorTemplateType,
      actorTemplate("gs", { snapshotsConfig: { location: "gs://bucket/snapshots" } }),
    );
    await pass();
    const status = (await template("gs")).status;
    assert.equal(status?.phase, "Failed");
    assert.equal(status?.conditions?.[0]?.reason, "UnsupportedSnapshotLocation");
    assert.equal(
      status?.conditions?.[0]?.message,
      'spec.snapshotsConfig.location "gs://bucket/snapshots": ate cannot write snapshots to gs:// (only to file:// or s3://), so no golden snapshot can be taken: delete the template and apply it again with a file:// or s3:// location',
    );
    assert.equal(boots(), 0);
  });

  it("does not try again on a timer: nothing changed, nothing is booted or written", async () => {
    const before = await Promise.all(["vm", "arm", "gs"].map(template));
    c.clock.advance(goldenDefaults.retryMs * 2);
    await c.heartbeat("n1");
    await pass();
    await pass();
    const now = await Promise.all(["vm", "arm", "gs"].map(template));
    assert.deepEqual(
      now.map((t) => t.metadata.resourceVersion),
      before.map((t) => t.metadata.resourceVersion),
    );
    assert.equal(boots(), 0);
  });

  it("goes on to its golden snapshot once a node with its class registers", async () => {
    await c.join({ name: "n2", sandboxClasses: ["microvm"], entry: "10.0.0.2:7481" });
    await pass();
    const status = (await template("vm")).status;
    assert.equal(status?.phase, "Ready", JSON.stringify(status));
    assert.ok(status?.goldenSnapshot);
    assert.equal(boots(), 1, "one boot: the microvm template's golden actor");
    assert.equal((await template("gs")).status?.phase, "Failed", "a node does not fix a location");
  });

  it("leaves Failed when the template is applied again with a fixed spec", async () => {
    // The spec is immutable: applying a fixed one is a delete and a create.
    await c.resources.delete(ActorTemplateType, "default", "gs");
    await c.resources.create(
      ActorTemplateType,
      actorTemplate("gs", { snapshotsConfig: { location: "file:///var/lib/ate/snapshots" } }),
    );
    await pass();
    assert.equal((await template("gs")).status?.phase, "Ready");
  });
});
