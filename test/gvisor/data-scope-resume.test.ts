// A Data-scope template end to end on one machine (control plane, golden controller, the real
// gvisor node agent): its golden snapshot is taken Full, and its actors, whose own snapshots
// keep only their data, resume from the golden's memory with their data laid in, never by a
// boot. The counter's boot id (made once per boot) tells a restore of the golden from a boot.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ActorTemplateType } from "../../src/api/v1alpha1/index.ts";
import { systemClock } from "../../src/clock/index.ts";
import { GoldenController, PoolController } from "../../src/controller/index.ts";
import { ControlPlane, StaticNodeDirectory } from "../../src/controlplane/index.ts";
import { silentLogger } from "../../src/log/index.ts";
import { goldenActorId, goldenAtespace, NodeAgent } from "../../src/node/index.ts";
import { Records, SqliteRecordStore } from "../../src/records/index.ts";
import { SqliteResourceStore } from "../../src/resources/index.ts";
import { GvisorDriver } from "../../src/sandbox/index.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { applyCounterSetup, counterTemplate } from "../support/counter-resources.ts";
import { getJson } from "../support/http.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

describe("a Data-scope template's actors resume from its golden snapshot", {
  timeout: 600_000,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-ds-cp-"));
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new NodeAgent({
    stateDir: join(dir, "node"),
    drivers: [
      new GvisorDriver({
        stateDir: join(dir, "node"),
        network: { prefix: "atdc", subnetBase: 138, subnets: 1 },
      }),
    ],
  });
  let runs = 0;
  const nodes = new StaticNodeDirectory({
    "node-1": new Proxy(agent, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop === "run") runs++;
        return typeof value === "function" ? value.bind(target) : value;
      },
    }),
  });
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
      replicas: 2,
      templates: {},
    };
    await applyCounterSetup(resources, setup);
    const notes = counterTemplate("notes", setup);
    (notes.spec as { snapshotsConfig: Record<string, string> }).snapshotsConfig.onCommit = "Data";
    await resources.create(ActorTemplateType, notes);
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

  it("takes the golden snapshot Full, and resumes actors from it across Data suspends", async () => {
    const template = await resources.get(ActorTemplateType, "default", "notes");
    assert.equal(template.status?.phase, "Ready", JSON.stringify(template.status));
    const goldenActor = await cp.getActor({
      atespace: goldenAtespace,
      name: goldenActorId("default", "notes"),
    });
    assert.equal(goldenActor.latestSnapshot?.scope, "Full", "the golden holds memory");
    const booted = runs; // the golden actor's boot

    await cp.createActor(ref("n1"), "default", "notes");
    await cp.resumeActor(ref("n1"));
    const golden = await boot("n1");
    assert.deepEqual(await hit("n1"), { memory: 1, file: 1, actor: "n1" });
    assert.deepEqual(await hit("n1"), { memory: 2, file: 2, actor: "n1" });
    const suspended = await cp.suspendActor(ref("n1"));
    assert.equal(suspended.latestSnapshot?.scope, "Data");

    await cp.resumeActor(ref("n1"));
    assert.equal(await boot("n1"), golden, "the golden's memory again, not a boot");
    assert.deepEqual(await hit("n1"), { memory: 1, file: 3, actor: "n1" }, "its own file");

    await cp.createActor(ref("n2"), "default", "notes");
    await cp.resumeActor(ref("n2"));
    assert.equal(await boot("n2"), golden);
    assert.deepEqual(await hit("n2"), { memory: 1, file: 1, actor: "n2" });
    assert.equal(runs, booted, "no actor was booted");
    await cp.suspendActor(ref("n1"));
    await cp.suspendActor(ref("n2"));
  });
});
