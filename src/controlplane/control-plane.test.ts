// Control-plane behaviour on both records backends, with a node agent that does no sandbox
// work (the real one is exercised in test/gvisor/control-plane.test.ts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { declareNoopPool } from "../../test/support/noop-pool.ts";
import { type RunningRedis, startRedis } from "../../test/support/redis.ts";
import { Code, isAteError } from "../errors/index.ts";
import {
  type RecordStore,
  Records,
  RedisRecordStore,
  SqliteRecordStore,
} from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { ControlPlane } from "./control-plane.ts";
import { StaticNodeDirectory } from "./nodes.ts";

function suite(name: string, open: () => Promise<RecordStore>, close: () => Promise<void>) {
  describe(`control plane on ${name}`, () => {
    const resources = new SqliteResourceStore({ path: ":memory:" });
    const agent = new NoopNodeAgent();
    let cp: ControlPlane;
    let records: Records;
    const ref = (n: string) => ({ atespace: "t", name: n });

    before(async () => {
      records = new Records(await open());
      await records.store.clear();
      cp = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({ n1: agent }) });
      await declareNoopPool(resources, records, agent, { replicas: 2 });
      await cp.createAtespace("t");
    });
    after(async () => {
      await records.store.close();
      await resources.close();
      await close();
    });

    it("creates actors SUSPENDED at version 1 and validates input naming the field", async () => {
      const a = await cp.createActor(ref("a"), "default", "counter", { pool: "x" });
      assert.equal(a.status, "SUSPENDED");
      assert.equal(a.version, 1);
      await assert.rejects(cp.createActor(ref("a"), "default", "counter"), (e) =>
        isAteError(e, Code.AlreadyExists),
      );
      await assert.rejects(cp.createActor(ref("b"), "default", "nope"), (e) =>
        isAteError(e, Code.FailedPrecondition),
      );
      await assert.rejects(
        cp.createActor({ atespace: "t", name: "-x" }, "default", "counter"),
        /actor_ref.name/,
      );
      const many = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, "v"]));
      await assert.rejects(
        cp.createActor(ref("c"), "default", "counter", many),
        /worker_selector.match_labels: Too many: 11/,
      );
      await assert.rejects(
        cp.updateActor(ref("a"), { "bad key": "v" }),
        /worker_selector.match_labels: Invalid value/,
      );
      assert.equal((await cp.updateActor(ref("a"))).workerSelector, undefined);
    });

    it("resumes idempotently, refuses a third actor on two workers, and deletes only suspended actors", async () => {
      for (const n of ["b", "c"]) await cp.createActor(ref(n), "default", "counter");
      const a = await cp.resumeActor(ref("a"));
      assert.equal(
        (await cp.resumeActor(ref("a"))).version,
        a.version,
        "resuming a RUNNING actor changes nothing",
      );
      await cp.resumeActor(ref("b"));
      await assert.rejects(cp.resumeActor(ref("c")), (e) => isAteError(e, Code.ResourceExhausted));
      await assert.rejects(cp.deleteActor(ref("a")), (e) => isAteError(e, Code.FailedPrecondition));
      assert.equal((await cp.suspendActor(ref("a"))).status, "SUSPENDED");
      assert.equal(
        (await cp.suspendActor(ref("a"))).status,
        "SUSPENDED",
        "suspending a SUSPENDED actor is a no-op",
      );
      await cp.deleteActor(ref("a"));
      await assert.rejects(cp.getActor(ref("a")), (e) => isAteError(e, Code.NotFound));
      const orphans = await records.orphanedSnapshots();
      assert.deepEqual(
        orphans.map((o) => [o.actorId, o.snapshots.length]),
        [["a", 1]],
        "its snapshots stay findable",
      );
      await cp.suspendActor(ref("b"));
      await assert.rejects(cp.deleteAtespace("t"), (e) => isAteError(e, Code.FailedPrecondition));
    });

    it("answers 100 concurrent resumes of one actor with one restore and a consistent record", async () => {
      await cp.resumeActor(ref("c"));
      await cp.suspendActor(ref("c"));
      agent.calls.restore = 0;
      const results = await Promise.allSettled(
        Array.from({ length: 100 }, () => cp.resumeActor(ref("c"))),
      );
      assert.equal(agent.calls.restore, 1);
      for (const r of results)
        assert.ok(
          r.status === "fulfilled"
            ? r.value.status === "RUNNING"
            : isAteError(r.reason, Code.Aborted),
        );
      const c = await cp.getActor(ref("c"));
      assert.equal(c.status, "RUNNING");
      assert.deepEqual(
        (await cp.listWorkers()).filter((w) => w.actor?.actorId === "c").map((w) => w.name),
        [c.worker?.name],
      );
      await cp.suspendActor(ref("c"));
    });
  });
}

suite(
  "SQLite",
  async () => new SqliteRecordStore(":memory:"),
  async () => {},
);
let redis: RunningRedis | undefined;
suite(
  "Redis",
  async () => {
    redis = await startRedis();
    return new RedisRecordStore({ url: redis.url });
  },
  async () => redis?.stop(),
);
