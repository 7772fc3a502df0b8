// The anchor's ActorTemplate fields from other versions of its API, honoured end to end on one
// machine (control plane, pool and golden controllers, the real gvisor node agent): no
// pauseImage; a homeDir volume kept as durableDir is; onPause `process` and onCommit `homedir`
// meaning Full and Data; workerPoolRef picking the one pool; spec.resources.limits passing over
// a pool whose workers are smaller. The counter's boot id tells a restore from a boot.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ActorTemplateType, WorkerPoolType } from "../../src/api/v1alpha1/index.ts";
import { systemClock } from "../../src/clock/index.ts";
import { GoldenController, PoolController } from "../../src/controller/index.ts";
import { ControlPlane, StaticNodeDirectory } from "../../src/controlplane/index.ts";
import { silentLogger } from "../../src/log/index.ts";
import { NodeAgent } from "../../src/node/index.ts";
import { Records, SqliteRecordStore } from "../../src/records/index.ts";
import { SqliteResourceStore } from "../../src/resources/index.ts";
import { GvisorDriver } from "../../src/sandbox/index.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { applyCounterSetup, counterTemplate } from "../support/counter-resources.ts";
import { getJson } from "../support/http.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

describe("the anchor's older ActorTemplate fields, honoured", { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-anchor-fields-"));
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new NodeAgent({
    stateDir: join(dir, "node"),
    drivers: [
      new GvisorDriver({
        stateDir: join(dir, "node"),
        network: { prefix: "atan", subnetBase: 144, subnets: 1 },
      }),
    ],
  });
  const nodes = new StaticNodeDirectory({ "node-1": agent });
  const cp = new ControlPlane({ records, resources, nodes });
  let registry: RunningRegistry;
  const ref = (name: string) => ({ atespace: "demo", name });
  const address = async (name: string) => (await cp.getActor(ref(name))).worker?.address;
  const hit = async (name: string) =>
    getJson<{ memory: number; file: number; actor: string }>(
      `http://${await address(name)}:8080/count`,
    );
  const boot = async (name: string) =>
    (await getJson<{ bootId: string }>(`http://${await address(name)}:8080/boot`)).bootId;

  before(async () => {
    registry = await startRegistry();
    const setup = {
      image: await pushCounterImage(registry.host),
      snapshotsDir: join(dir, "snapshots"),
      replicas: 1,
      templates: {},
    };
    // "pool" (from the setup): no limits. "chosen": workers limited to 512Mi.
    await applyCounterSetup(resources, setup);
    await resources.create(WorkerPoolType, {
      apiVersion: "ate.dev/v1alpha1",
      kind: "WorkerPool",
      metadata: { name: "chosen", namespace: "default" },
      spec: {
        replicas: 1,
        ateomImage: "local",
        template: { resources: { limits: { memory: "512Mi" } } },
      },
    });
    // As the anchor's counter demo wrote it: home directory volume, process/homedir scopes,
    // no pause image; plus a port, a pool by reference and a size the chosen pool holds.
    const home = counterTemplate("home", setup);
    const spec = home.spec as Record<string, unknown> & {
      containers: Record<string, unknown>[];
      snapshotsConfig: Record<string, string>;
    };
    delete spec.pauseImage;
    spec.volumes = [{ name: "myhomedir", homeDir: {} }];
    Object.assign(spec.containers[0] as object, {
      env: [{ name: "DATA_DIR", value: "/home/counter" }],
      volumeMounts: [{ name: "myhomedir", mountPath: "/home/counter" }],
      ports: [{ containerPort: 8080 }],
    });
    Object.assign(spec.snapshotsConfig, { onPause: "process", onCommit: "homedir" });
    spec.workerPoolRef = { name: "chosen" };
    spec.resources = { limits: { memory: "256Mi" } };
    await resources.create(ActorTemplateType, home);
    // Larger than "chosen" holds: only the unlimited pool runs it.
    const big = counterTemplate("big", setup);
    (big.spec as Record<string, unknown>).resources = { limits: { memory: "1Gi" } };
    await resources.create(ActorTemplateType, big);
    await new PoolController({ resources, records, nodes, logger: silentLogger }).reconcile();
    await new GoldenController({
      resources,
      controlPlane: cp,
      clock: systemClock,
      logger: silentLogger,
    }).reconcile();
    await cp.createAtespace("demo");
  });

  after(async () => {
    for (const w of await agent.listWorkers()) await agent.deleteWorker(w.name).catch(() => {});
    await registry?.stop();
    await resources.close();
    await records.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs in the referenced pool, keeps the home dir as Data on suspend, all on pause", async () => {
    for (const name of ["home", "big"]) {
      const t = await resources.get(ActorTemplateType, "default", name);
      assert.equal(t.status?.phase, "Ready", `${name}: ${JSON.stringify(t.status)}`);
    }
    await cp.createActor(ref("h1"), "default", "home");
    const running = await cp.resumeActor(ref("h1"));
    assert.equal(running.worker?.pool, "chosen", "workerPoolRef picks the pool");
    const golden = await boot("h1");
    assert.deepEqual(await hit("h1"), { memory: 1, file: 1, actor: "h1" });
    assert.deepEqual(await hit("h1"), { memory: 2, file: 2, actor: "h1" });

    // onPause: process is Full: memory and files kept on the node.
    const paused = await cp.pauseActor(ref("h1"));
    assert.equal(paused.latestSnapshot?.scope, "Full");
    await cp.resumeActor(ref("h1"));
    assert.deepEqual(await hit("h1"), { memory: 3, file: 3, actor: "h1" }, "memory kept");

    // onCommit: homedir is Data: the home directory alone travels; memory is the golden's.
    const suspended = await cp.suspendActor(ref("h1"));
    assert.equal(suspended.latestSnapshot?.scope, "Data");
    const back = await cp.resumeActor(ref("h1"));
    assert.equal(back.worker?.pool, "chosen");
    assert.equal(await boot("h1"), golden, "the golden's memory, not this actor's");
    assert.deepEqual(await hit("h1"), { memory: 1, file: 4, actor: "h1" }, "its home dir kept");
    await cp.suspendActor(ref("h1"));

    // 1Gi per actor: the 512Mi pool is passed over for the unlimited one.
    await cp.createActor(ref("b1"), "default", "big");
    assert.equal((await cp.resumeActor(ref("b1"))).worker?.pool, "pool");
    await cp.suspendActor(ref("b1"));
  });
});
