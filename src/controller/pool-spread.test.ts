// WorkerPools over several nodes (no-op agents in a registry on a fake clock): replicas spread
// over the live nodes that can run them, replaced when a node is lost, given to a node that
// joins; and resumes prefer the nodes that cache what the actor needs.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { actorTemplate, sandboxConfig, sha, workerPool } from "../api/testing.ts";
import { ActorTemplateType, SandboxConfigType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { PoolController } from "./pool-controller.ts";
import { type TestNodeSpec, testCluster } from "./testing.ts";

describe("a WorkerPool over several nodes", () => {
  let c: Awaited<ReturnType<typeof testCluster>>;
  let pools: PoolController;
  const ref = (name: string) => ({ atespace: "t", name });

  const start = async (nodes: TestNodeSpec[], replicas: number, spec = {}) => {
    c = await testCluster(nodes);
    pools = new PoolController({
      resources: c.resources,
      records: c.records,
      nodes: c.registry,
      actors: c.cp,
      logger: c.logger,
    });
    await c.resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
    await c.resources.create(ActorTemplateType, actorTemplate("counter"));
    await c.resources.create(WorkerPoolType, workerPool("p", { replicas, ...spec }));
    await c.cp.createAtespace("t");
    await pools.reconcile();
  };
  /** Workers per node, from the records (and each live node's agent agrees). */
  const spread = async () => {
    const out: Record<string, number> = {};
    for (const w of await c.workersOf("p")) out[w.node] = (out[w.node] ?? 0) + 1;
    for (const { name } of await c.registry.list()) {
      const workers = (await c.agents.get(name)?.listWorkers()) ?? [];
      assert.equal(workers.length, out[name] ?? 0, `${name}'s agent agrees`);
    }
    return out;
  };
  /** Time passes; only these nodes heartbeat. */
  const passTime = async (ms: number, alive: string[]) => {
    c.clock.advance(ms);
    for (const n of alive) await c.heartbeat(n);
  };

  afterEach(async () => {
    await c?.close();
  });

  it("spreads replicas evenly over the live nodes that can run the pool, with their entry", async () => {
    await start(
      [
        { name: "n1", entry: "10.0.0.1:7481" },
        { name: "n2", entry: "10.0.0.2:7481" },
        { name: "n3", entry: "10.0.0.3:7481" },
        { name: "kata", sandboxClasses: ["microvm"] },
        { name: "arm", arch: "arm64" },
      ],
      6,
    );
    assert.deepEqual(await spread(), { n1: 2, n2: 2, n3: 2 }, "not on kata or arm: cannot run it");
    for (const w of await c.workersOf("p")) assert.equal(w.entry, `10.0.0.${w.node.slice(1)}:7481`);
    assert.deepEqual((await c.pool("p")).status, { replicas: 6 });
    await c.cp.createActor(ref("a"), "default", "counter");
    const a = await c.cp.resumeActor(ref("a"));
    const held = (await c.workersOf("p")).find((w) => w.name === a.worker?.name);
    assert.equal(a.worker?.entry, held?.entry, "the actor's worker ref carries its entry");
  });

  it("replaces a lost node's workers on the others; a node that joins takes free ones, never busy ones", async () => {
    await start([{ name: "n1" }, { name: "n2" }, { name: "n3" }], 6);
    await passTime(10_001, ["n1", "n2"]);
    assert.deepEqual(await c.registry.declareLostNodes(), ["n3"]);
    await pools.reconcile();
    const after = await spread();
    assert.equal(after.n1, 3);
    assert.equal(after.n2, 3);
    assert.deepEqual((await c.pool("p")).status, { replicas: 6 });

    // Four actors take four workers; n4 joins.
    for (const id of ["a", "b", "c", "d"]) {
      await c.cp.createActor(ref(id), "default", "counter");
      await c.cp.resumeActor(ref(id));
    }
    const busy = (await c.workersOf("p")).filter((w) => w.actor).map((w) => `${w.node}/${w.name}`);
    await c.join({ name: "n4" });
    await pools.reconcile();
    const joined = await spread();
    assert.ok((joined.n4 ?? 0) >= 1, `n4 takes workers: ${JSON.stringify(joined)}`);
    assert.equal((joined.n1 ?? 0) + (joined.n2 ?? 0) + (joined.n4 ?? 0), 6);
    assert.ok(Math.max(...Object.values(joined)) - Math.min(...Object.values(joined)) <= 2);
    const now = (await c.workersOf("p")).map((w) => `${w.node}/${w.name}`);
    for (const b of busy) assert.ok(now.includes(b), `busy worker ${b} did not move`);
    await pools.reconcile();
    assert.deepEqual(await spread(), joined, "settled: the next pass changes nothing");
  });

  it("keeps a node's workers when its agent does not answer a pass", async () => {
    await start([{ name: "n1" }, { name: "n2" }], 4);
    const n2 = c.agents.get("n2");
    assert.ok(n2);
    const list = n2.listWorkers.bind(n2);
    n2.listWorkers = async () => {
      throw new Error("connection refused");
    };
    await pools.reconcile();
    n2.listWorkers = list;
    assert.deepEqual(await spread(), { n1: 2, n2: 2 }, "nothing created or removed");
    assert.ok(c.warnings.includes("node did not answer; its workers are left as they are"));
  });

  it("refuses a pool the nodes cannot hold, saying why for each node", async () => {
    const Gi = 1024 ** 3;
    await start(
      [
        { name: "n1", memoryBytes: Gi },
        { name: "n2", memoryBytes: Gi },
      ],
      5,
      { template: { resources: { requests: { memory: "512Mi" } } } },
    );
    assert.deepEqual(await spread(), {}, "not one worker");
    const condition = (await c.pool("p")).status?.conditions?.[0];
    assert.equal(condition?.reason, "InsufficientNodeResources");
    assert.equal(
      condition?.message,
      "spec.replicas 5 does not fit on the 2 nodes that can run it (at most 4 do): node n1 has 1024Mi of memory and older pools request 0 of it, so at most 2 workers of spec.template.resources.requests.memory 512Mi fit; node n2 has 1024Mi of memory and older pools request 0 of it, so at most 2 workers of spec.template.resources.requests.memory 512Mi fit: lower spec.replicas, make room on these nodes (lower requests, or remove other pools), or add nodes",
    );
    const p = await c.pool("p");
    await c.resources.update(WorkerPoolType, { ...p, spec: { ...p.spec, replicas: 4 } });
    await pools.reconcile();
    assert.deepEqual(await spread(), { n1: 2, n2: 2 });
    assert.deepEqual((await c.pool("p")).status, { replicas: 4 }, "fits now: condition gone");
  });

  it("refuses a pool no live node can run, naming the nodes", async () => {
    await start([{ name: "kata", sandboxClasses: ["microvm"] }], 1);
    const condition = (await c.pool("p")).status?.conditions?.[0];
    assert.equal(condition?.reason, "NoSuitableNode");
    assert.equal(
      condition?.message,
      "spec.replicas 1 cannot be placed: no live node can run this pool (sandboxClass gvisor, arch amd64 (its SandboxConfig's assets)); the live nodes are kata (microvm; amd64): start a node agent that can, or change the pool",
    );
  });

  it("resumes actors on nodes that cache their runtime and image first", async () => {
    const image = `registry.local/app@sha256:${sha("c")}`;
    await start(
      [
        { name: "n1" },
        { name: "n2", cachedAssets: [sha("a")], cachedImages: [image] },
        { name: "n3", cachedAssets: [sha("a")] },
      ],
      6,
    );
    const nodes: string[] = [];
    for (const id of ["a", "b", "c", "d", "e", "f"]) {
      await c.cp.createActor(ref(id), "default", "counter");
      nodes.push((await c.cp.resumeActor(ref(id))).worker?.node ?? "");
    }
    assert.deepEqual(nodes, ["n2", "n2", "n3", "n3", "n1", "n1"]);
  });
});
