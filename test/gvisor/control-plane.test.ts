// The control plane end to end on one machine: resources, records, the pool and golden
// controllers, and the real gvisor node agent.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ActorTemplateType, WorkerPoolType } from "../../src/api/v1alpha1/index.ts";
import { systemClock } from "../../src/clock/index.ts";
import { GoldenController, PoolController } from "../../src/controller/index.ts";
import { ControlPlane, StaticNodeDirectory } from "../../src/controlplane/index.ts";
import { Code, isAteError } from "../../src/errors/index.ts";
import { silentLogger } from "../../src/log/index.ts";
import { NodeAgent, type NodeAgentApi } from "../../src/node/index.ts";
import { Records, SqliteRecordStore } from "../../src/records/index.ts";
import { SqliteResourceStore } from "../../src/resources/index.ts";
import { GvisorDriver } from "../../src/sandbox/index.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { applyCounterSetup } from "../support/counter-resources.ts";
import { getJson } from "../support/http.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

describe("control plane with gvisor workers", { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-cp-"));
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new NodeAgent({
    stateDir: join(dir, "node"),
    drivers: [
      new GvisorDriver({
        stateDir: join(dir, "node"),
        network: { prefix: "atec", subnetBase: 230 },
      }),
    ],
  });
  const calls = { run: 0, restore: 0, checkpoint: 0 };
  // Counts what the control plane asks of the node (a transparent wrapper around the real agent).
  const counted: NodeAgentApi = new Proxy(agent, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === "run" || prop === "restore" || prop === "checkpoint") {
        return (...args: unknown[]) => {
          calls[prop]++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ "node-1": counted }),
  });
  const pools = new PoolController({
    resources,
    records,
    nodes: new StaticNodeDirectory({ "node-1": counted }),
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
      poolLabels: { pool: "demo" },
      workerSelector: { pool: "demo" },
    });
    await cp.createAtespace("demo");
  });

  after(async () => {
    for (const w of await agent.listWorkers()) await agent.deleteWorker(w.name).catch(() => {});
    await registry?.stop();
    await resources.close();
    await records.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates the pool's workers and the template's golden snapshot", async () => {
    await pools.reconcile();
    assert.equal((await cp.listWorkers()).length, 2);
    assert.equal((await resources.get(WorkerPoolType, "default", "pool")).status?.replicas, 2);
    await golden.reconcile();
    const template = await resources.get(ActorTemplateType, "default", "counter");
    assert.equal(template.status?.phase, "Ready", JSON.stringify(template.status));
    assert.match(template.status?.goldenSnapshot ?? "", /^file:\/\/.*\/snapshots\/ate-golden\//);
    assert.ok(
      (await cp.listWorkers()).every((w) => !w.actor),
      "the golden actor gave its worker back",
    );
  });

  it("runs actors from the golden snapshot on free workers, queues none, and keeps state across suspend and resume", async () => {
    for (const id of ["a", "b", "c"]) await cp.createActor(ref(id), "default", "counter");
    calls.run = 0;
    const a = await cp.resumeActor(ref("a"));
    const b = await cp.resumeActor(ref("b"));
    assert.equal(a.status, "RUNNING");
    assert.notEqual(a.worker?.name, b.worker?.name);
    assert.equal(calls.run, 0, "actors start from the golden snapshot, not a cold boot");
    assert.deepEqual(await hit("a"), { memory: 1, file: 1, actor: "a" });
    assert.deepEqual(await hit("a"), { memory: 2, file: 2, actor: "a" });
    assert.deepEqual(await hit("b"), { memory: 1, file: 1, actor: "b" });
    await assert.rejects(
      cp.resumeActor(ref("c")),
      (e) =>
        isAteError(e, Code.ResourceExhausted) &&
        /no free worker for actor demo\/c/.test((e as Error).message),
    );
    assert.equal((await cp.getActor(ref("c"))).status, "SUSPENDED");
    const suspended = await cp.suspendActor(ref("a"));
    assert.equal(suspended.status, "SUSPENDED");
    assert.equal(suspended.latestSnapshot?.type, "EXTERNAL");
    await cp.resumeActor(ref("c"));
    assert.deepEqual(await hit("c"), { memory: 1, file: 1, actor: "c" });
    await cp.suspendActor(ref("b"));
    const again = await cp.resumeActor(ref("a"));
    assert.equal(again.status, "RUNNING");
    assert.deepEqual(await hit("a"), { memory: 3, file: 3, actor: "a" });
    await assert.rejects(cp.deleteActor(ref("a")), /is RUNNING: suspend it before deleting it/);
  });

  it("pauses on the node and resumes there", async () => {
    const paused = await cp.pauseActor(ref("a"));
    assert.equal(paused.status, "PAUSED");
    assert.equal(paused.latestSnapshot?.type, "LOCAL");
    assert.deepEqual(paused.latestSnapshot?.nodes, ["node-1"]);
    await cp.resumeActor(ref("a"));
    assert.deepEqual(await hit("a"), { memory: 4, file: 4, actor: "a" });
    await cp.suspendActor(ref("a"));
    await cp.suspendActor(ref("c"));
  });

  it("answers 100 concurrent resumes of one suspended actor with exactly one restore", async () => {
    calls.restore = 0;
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, () => cp.resumeActor(ref("b"))),
    );
    assert.equal(calls.restore, 1);
    for (const r of results) {
      if (r.status === "fulfilled") assert.equal(r.value.status, "RUNNING");
      else assert.ok(isAteError(r.reason, Code.Aborted), String(r.reason));
    }
    const b = await cp.getActor(ref("b"));
    assert.equal(b.status, "RUNNING");
    assert.equal(b.transition, undefined);
    const holding = (await cp.listWorkers()).filter((w) => w.actor?.actorId === "b");
    assert.equal(holding.length, 1);
    assert.equal(holding[0]?.name, b.worker?.name);
    assert.deepEqual(await hit("b"), { memory: 2, file: 2, actor: "b" });
    await cp.suspendActor(ref("b"));
  });
});
