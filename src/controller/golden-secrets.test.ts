// A template whose env comes from Secrets: the golden boot reads them, a missing required one
// fails the template at once (naming Secret and key, no boot, no timer), and the Secret's
// creation lets it go on. The real control plane and stores over a no-op node that keeps the
// requests it was sent.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Resource } from "../api/schema/index.ts";
import { actorTemplate, sandboxConfig, workerPool } from "../api/testing.ts";
import { SecretType } from "../api/v1/index.ts";
import { ActorTemplateType, SandboxConfigType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import type { RestoreRequest, RunRequest } from "../node/index.ts";
import { goldenDefaults, secretNotFoundReason } from "./golden-controller.ts";
import { controllerPass, testCluster } from "./testing.ts";

const secret = (name: string, stringData: Record<string, string>): Resource =>
  ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: "default" },
    stringData,
  }) as never;

const env = [
  { name: "PLAIN", value: "literal" },
  { name: "TOKEN", valueFrom: { secretKeyRef: { name: "api", key: "token" } } },
  {
    name: "EXTRA",
    valueFrom: { secretKeyRef: { name: "absent", key: "x", optional: true } },
  },
];

describe("golden controller: env from Secrets", async () => {
  const c = await testCluster([{ name: "n1" }]);
  const runs: RunRequest[] = [];
  const restores: RestoreRequest[] = [];
  const run = c.agent.run.bind(c.agent);
  const restore = c.agent.restore.bind(c.agent);
  c.agent.run = (req) => {
    runs.push(req);
    return run(req);
  };
  c.agent.restore = (req) => {
    restores.push(req);
    return restore(req);
  };
  const pass = controllerPass(c);
  const template = () => c.resources.get(ActorTemplateType, "default", "app");
  const boots = () => c.agent.calls.run + c.agent.calls.restore;

  before(async () => {
    await c.resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
    await c.resources.create(WorkerPoolType, workerPool("main", { replicas: 2 }));
    await c.resources.create(
      ActorTemplateType,
      actorTemplate("app", {
        containers: [{ name: "main", image: `registry.local/app@sha256:${"c".repeat(64)}`, env }],
      }),
    );
  });
  after(() => c.close());

  it("fails the template at once while a required Secret is missing, naming it and its key", async () => {
    await pass();
    const status = (await template()).status;
    assert.equal(status?.phase, "Failed");
    assert.equal(status?.conditions?.[0]?.reason, secretNotFoundReason);
    assert.equal(
      status?.conditions?.[0]?.message,
      'env TOKEN of container main needs key "token" of Secret default/api, which does not exist: create the Secret with that key (or mark the reference optional: true); the golden snapshot is made once it exists',
    );
    assert.equal(boots(), 0, "no boot attempted");
  });

  it("names a missing key of an existing Secret, and never a value", async () => {
    await c.resources.create(SecretType, secret("api", { other: "s3cr3t-other" }));
    await pass();
    const message = (await template()).status?.conditions?.[0]?.message ?? "";
    assert.match(message, /needs key "token" of Secret default\/api, which has no key "token"/);
    assert.doesNotMatch(message, /s3cr3t/);
    assert.equal(boots(), 0);
  });

  it("does not try again on a timer while nothing changed", async () => {
    const before = (await template()).metadata.resourceVersion;
    c.clock.advance(goldenDefaults.retryMs * 2);
    await c.heartbeat("n1");
    await pass();
    assert.equal((await template()).metadata.resourceVersion, before, "no status write");
    assert.equal(boots(), 0);
  });

  it("boots once the key exists: the run carries the value beside its reference", async () => {
    const api = await c.resources.get(SecretType, "default", "api");
    await c.resources.update(SecretType, { ...api, stringData: { token: "s3cr3t-1" } } as never);
    await pass();
    const status = (await template()).status;
    assert.equal(status?.phase, "Ready", JSON.stringify(status));
    assert.equal(runs.length, 1);
    assert.deepEqual(runs[0]?.workload.containers[0]?.env, [
      { name: "PLAIN", value: "literal" },
      { name: "TOKEN", value: "s3cr3t-1", secretKeyRef: { name: "api", key: "token" } },
      { name: "EXTRA", secretKeyRef: { name: "absent", key: "x", optional: true } },
    ]);
  });

  it("a restore from the golden (Full) sends no Secret, so deleting it does not matter", async () => {
    await c.resources.delete(SecretType, "default", "api");
    const ref = { atespace: "t1", name: "a1" };
    await c.cp.createAtespace("t1");
    await c.cp.createActor(ref, "default", "app");
    const actor = await c.cp.resumeActor(ref);
    assert.equal(actor.status, "RUNNING");
    assert.equal(restores.at(-1)?.scope, "Full");
    assert.equal(restores.at(-1)?.secretValues, undefined);
  });

  it("a cold boot (--boot) with the Secret gone is refused naming Secret and key", async () => {
    const ref = { atespace: "t1", name: "a2" };
    await c.cp.createActor(ref, "default", "app");
    await assert.rejects(c.cp.resumeActor(ref, true), (err: Error) => {
      assert.equal(
        err.message,
        'ActorTemplate default/app cannot boot: env TOKEN of container main needs key "token" of Secret default/api, which does not exist: create the Secret with that key (or mark the reference optional: true)',
      );
      return true;
    });
    const after = await c.records.getActor("t1", "a2");
    assert.equal(after.status, "SUSPENDED", "rolled back, worker freed");
  });

  it("a rotated Secret reaches the next cold boot", async () => {
    await c.resources.create(SecretType, secret("api", { token: "s3cr3t-2" }));
    const ref = { atespace: "t1", name: "a2" };
    await c.cp.resumeActor(ref, true);
    const token = runs.at(-1)?.workload.containers[0]?.env?.find((e) => e.name === "TOKEN");
    assert.equal(token?.value, "s3cr3t-2");
  });

  it("a Data restore, which may boot the image, carries the values its references read now", async () => {
    await c.resources.create(
      ActorTemplateType,
      actorTemplate("data", {
        containers: [{ name: "main", image: `registry.local/app@sha256:${"c".repeat(64)}`, env }],
        snapshotsConfig: { location: "file:///var/lib/ate/snapshots", onCommit: "Data" },
      }),
    );
    for (const name of ["a1", "a2"]) await c.cp.suspendActor({ atespace: "t1", name }); // room
    await pass();
    const status = (await c.resources.get(ActorTemplateType, "default", "data")).status;
    assert.equal(status?.phase, "Ready", JSON.stringify(status));
    const ref = { atespace: "t1", name: "d1" };
    await c.cp.createActor(ref, "default", "data");
    await c.cp.resumeActor(ref);
    await c.cp.suspendActor(ref);
    await c.cp.resumeActor(ref);
    const last = restores.at(-1);
    assert.equal(last?.scope, "Data");
    assert.equal(last?.source.startsWith("file:///var/lib/ate/snapshots"), true, last?.source);
    assert.deepEqual(last?.secretValues, [{ secret: "api", key: "token", value: "s3cr3t-2" }]);
  });
});
