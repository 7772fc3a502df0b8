// Two control planes' node registries on one real redis-server (two connections, one truth):
// both see every node; a silent node is declared lost exactly once, its actors go back to their
// last external snapshot and its workers leave the records; back, it hears which to tear down.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { type RunningRedis, startRedis } from "../../test/support/redis.ts";
import type { NodeRegistration } from "../node/index.ts";
import { type Actor, Records, RedisRecordStore, type Worker, workerRef } from "../records/index.ts";
import { NodeRegistry } from "./node-registry.ts";

function registration(name: string): NodeRegistration {
  return {
    name,
    url: "http://10.0.0.5:7444",
    entry: "10.0.0.5:7481",
    address: "10.0.0.5",
    arch: "amd64",
    sandboxClasses: ["gvisor"],
    capacity: { workers: 8, source: "--max-workers 8", memoryBytes: 2 ** 33, cpuMillis: 4000 },
    cachedAssets: [],
    cachedImages: [],
  };
}

function worker(name: string, node: string, actorId?: string): Worker {
  return {
    namespace: "default",
    pool: "p",
    name,
    uid: `uid-${name}`,
    node,
    address: "169.254.64.2",
    version: 0,
    ...(actorId
      ? {
          actor: { atespace: "t", templateNamespace: "default", templateName: "c", actorId },
        }
      : {}),
  };
}

const external = { type: "EXTERNAL" as const, scope: "Full" as const, uri: "s3://b/t/x/1" };

describe("node registries of two control planes on one redis-server", () => {
  let redis: RunningRedis;
  const stores: RedisRecordStore[] = [];
  let t = Date.parse("2026-01-01T00:00:00Z");
  const clock = { now: () => new Date(t) };
  const agent = new NoopNodeAgent();

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const s of stores) await s.close().catch(() => {});
    await redis?.stop();
  });

  it("share nodes, declare a silent one lost once, and move its actors back", async () => {
    const open = () => {
      const store = new RedisRecordStore({ url: redis.url, prefix: "reg-test" });
      stores.push(store);
      return new Records(store);
    };
    const [ra, rb] = [open(), open()];
    const a = new NodeRegistry({ records: ra, clock, dial: () => agent });
    const b = new NodeRegistry({ records: rb, clock, dial: () => agent });
    await a.register(registration("n1"), "secret-of-n1-0123456789");
    await b.register(registration("n2"), "secret-of-n2-0123456789");
    for (const r of [a, b])
      assert.deepEqual(
        (await r.list()).map((n) => n.name),
        ["n1", "n2"],
      );

    await ra.createAtespace("t");
    const actor = (actorId: string, more: Partial<Actor>): Omit<Actor, "version"> => ({
      atespace: "t",
      actorId,
      templateNamespace: "default",
      templateName: "c",
      status: "RUNNING",
      createdAt: new Date(t).toISOString(),
      ...more,
    });
    const w1 = await ra.putWorker(worker("w1", "n1", "run"));
    await ra.putWorker(worker("w2", "n1"));
    const w3 = await ra.putWorker(worker("w3", "n2", "other"));
    await ra.createActor(actor("run", { worker: workerRef(w1), latestSnapshot: external }));
    await ra.createActor(
      actor("paused", {
        status: "PAUSED",
        latestSnapshot: { type: "LOCAL", scope: "Full", uri: "file:///n1/p", nodes: ["n1"] },
        lastExternalSnapshot: external,
      }),
    );
    await ra.createActor(actor("other", { worker: workerRef(w3) }));

    t += 10_001;
    await b.heartbeat(registration("n2"));
    const declared = await Promise.all([a.declareLostNodes(), b.declareLostNodes()]);
    assert.deepEqual(declared.flat(), ["n1"], `exactly once: ${JSON.stringify(declared)}`);

    for (const id of ["run", "paused"]) {
      const moved = await rb.getActor("t", id);
      assert.equal(moved.status, "SUSPENDED", id);
      assert.deepEqual(moved.latestSnapshot, external, id);
      assert.equal(moved.worker, undefined, id);
      assert.equal(moved.lastExit?.reason, "NodeLost", id);
    }
    assert.equal((await rb.getActor("t", "other")).status, "RUNNING");
    assert.deepEqual(
      (await rb.listWorkers()).map((w) => w.name),
      ["w3"],
    );
    const lost = await rb.getNode("n1");
    assert.equal(lost?.state, "Lost");
    assert.deepEqual(lost?.goneWorkers?.sort(), ["w1", "w2"]);

    const back = await b.register(registration("n1"), "secret-of-n1-new-0123456789");
    assert.deepEqual(back.staleWorkers.sort(), ["w1", "w2"]);
    assert.deepEqual(
      (await a.list()).map((n) => n.name),
      ["n1", "n2"],
      "the other control plane sees it back",
    );
  });
});
