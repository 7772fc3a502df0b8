// One contract for every records backend: SQLite (embedded) and a real Redis.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type RunningRedis, startRedis } from "../../test/support/redis.ts";
import { Code, isAteError } from "../errors/index.ts";
import { Records } from "./records.ts";
import { RedisRecordStore } from "./redis-record-store.ts";
import { SqliteRecordStore } from "./sqlite-record-store.ts";
import type { RecordStore } from "./store.ts";
import type { Actor, Worker } from "./types.ts";

const code = (c: Code) => (e: unknown) => isAteError(e, c);

function newActor(atespace: string, actorId: string): Omit<Actor, "version"> {
  return {
    atespace,
    actorId,
    templateNamespace: "default",
    templateName: "counter",
    status: "SUSPENDED",
    createdAt: new Date().toISOString(),
  };
}

function newWorker(name: string): Worker {
  return {
    namespace: "default",
    pool: "pool",
    name,
    uid: `uid-${name}`,
    node: "node-1",
    address: "169.254.64.2",
    version: 0,
  };
}

function contract(name: string, open: () => Promise<RecordStore>, close: () => Promise<void>) {
  describe(`records on ${name}`, () => {
    let store: RecordStore;
    let records: Records;
    before(async () => {
      store = await open();
      records = new Records(store);
    });
    after(async () => {
      await store.close();
      await close();
    });

    it("creates, reads, versions and deletes actors within atespaces", async () => {
      await store.clear();
      await records.createAtespace("team");
      const created = await records.createActor(newActor("team", "a1"));
      assert.equal(created.version, 1);
      assert.deepEqual(await records.getActor("team", "a1"), created);
      const moved = await records.updateActor({ ...created, status: "RESUMING" });
      assert.equal(moved.version, 2);
      await assert.rejects(
        records.updateActor({ ...created, status: "PAUSED" }),
        code(Code.Aborted),
        "a stale version is refused",
      );
      await assert.rejects(records.createActor(newActor("team", "a1")), code(Code.AlreadyExists));
      await assert.rejects(
        records.createActor(newActor("nope", "a1")),
        (e) =>
          isAteError(e, Code.FailedPrecondition) &&
          /atespace nope does not exist/.test((e as Error).message),
      );
      await assert.rejects(
        records.createActor(newActor("team", "Bad_Id")),
        (e) => isAteError(e, Code.InvalidArgument) && /actor_ref.name/.test((e as Error).message),
      );
      await records.deleteActor(moved);
      await assert.rejects(records.getActor("team", "a1"), code(Code.NotFound));
    });

    it("creates many actors in one atespace concurrently", async () => {
      await store.clear();
      await records.createAtespace("busy");
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => records.createActor(newActor("busy", `c${i}`))),
      );
      assert.equal((await records.listActors({ atespace: "busy" })).actors.length, 20);
    });

    it("deletes an atespace only when it is empty", async () => {
      await store.clear();
      await records.createAtespace("full");
      await records.createActor(newActor("full", "x"));
      await assert.rejects(
        records.deleteAtespace("full"),
        (e) => isAteError(e, Code.FailedPrecondition) && /holds 1 actor/.test((e as Error).message),
      );
      await records.deleteActor(await records.getActor("full", "x"));
      await records.deleteAtespace("full");
      assert.deepEqual(await records.listAtespaces(), []);
    });

    it("claims a worker for one actor atomically: two claims never take one worker", async () => {
      await store.clear();
      await records.createAtespace("s");
      const w = await records.putWorker(newWorker("w1"));
      const a = await records.createActor(newActor("s", "a"));
      const b = await records.createActor(newActor("s", "b"));
      const results = await Promise.allSettled([
        records.claimWorker(w, { ...a, status: "RESUMING" }),
        records.claimWorker(w, { ...b, status: "RESUMING" }),
      ]);
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      const loser = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      assert.ok(isAteError(loser.reason, Code.Aborted));
      const worker = await records.getWorker("default", "w1");
      const winner = worker.actor?.actorId as string;
      assert.equal((await records.getActor("s", winner)).status, "RESUMING");
      assert.equal(
        (await records.getActor("s", winner === "a" ? "b" : "a")).status,
        "SUSPENDED",
        "the loser's record is untouched",
      );
      const released = await records.releaseWorker(worker, {
        ...(await records.getActor("s", winner)),
        status: "SUSPENDED",
      });
      assert.equal(released.worker.actor, undefined);
      assert.equal((await records.listWorkers())[0]?.actor, undefined);
    });

    it("pages through actors with stable opaque tokens, per atespace or all", async () => {
      await store.clear();
      for (const s of ["a", "b"]) await records.createAtespace(s);
      for (let i = 0; i < 25; i++)
        await records.createActor(
          newActor(i % 2 ? "a" : "b", `actor-${String(i).padStart(2, "0")}`),
        );
      const seen: string[] = [];
      let token = "";
      do {
        const page = await records.listActors({ pageSize: 7, pageToken: token });
        assert.ok(page.actors.length <= 7);
        seen.push(...page.actors.map((x) => `${x.atespace}/${x.actorId}`));
        token = page.nextPageToken;
      } while (token);
      assert.equal(seen.length, 25);
      assert.deepEqual(seen, [...seen].sort());
      const onlyA = await records.listActors({ atespace: "a" });
      assert.equal(onlyA.actors.length, 12);
      assert.equal(onlyA.nextPageToken, "");
      const first = await records.listActors({ atespace: "a", pageSize: 5 });
      await assert.rejects(
        records.listActors({ atespace: "b", pageToken: first.nextPageToken }),
        /page_token/,
      );
      await assert.rejects(records.listActors({ pageSize: -1 }), /page_size/);
      assert.equal(
        (await records.listActors({ pageSize: 5000 })).actors.length,
        25,
        "page size is capped at 1000",
      );
    });

    it("keeps tokens as a kind of their own, listed by name, and through a clear", async () => {
      await store.clear();
      for (const name of ["b", "a"])
        await store.commit([
          { kind: "token", key: name, expectVersion: 0, value: { name, sha256: "00" } },
        ]);
      await store.commit([{ kind: "worker", key: "default/a", expectVersion: 0, value: {} }]);
      const page = await store.list("token", { limit: 10 });
      assert.deepEqual(
        page.items.map((t) => t.name),
        ["a", "b"],
      );
      assert.equal(await store.count("token"), 2);
      await store.clear();
      assert.equal(await store.count("worker"), 0);
      assert.equal(await store.count("token"), 2, "DebugClear does not lock its caller out");
      assert.equal((await store.get("token", "a"))?.version, 1);
      await store.commit([{ kind: "token", key: "a", expectVersion: 1 }]);
      await store.commit([{ kind: "token", key: "b", expectVersion: 1 }]);
      assert.equal(await store.count("token"), 0);
    });

    it("commits several records all or nothing", async () => {
      await store.clear();
      await store.commit([{ kind: "worker", key: "x/1", expectVersion: 0, value: { n: 1 } }]);
      await assert.rejects(
        store.commit([
          { kind: "worker", key: "x/2", expectVersion: 0, value: { n: 2 } },
          { kind: "worker", key: "x/1", expectVersion: 7, value: { n: 3 } },
        ]),
        code(Code.Aborted),
      );
      assert.equal(await store.get("worker", "x/2"), undefined, "the first write did not happen");
      assert.equal(await store.count("worker"), 1);
    });
  });
}

contract(
  "SQLite",
  async () => new SqliteRecordStore(":memory:"),
  async () => {},
);

let redis: RunningRedis | undefined;
contract(
  "Redis",
  async () => {
    redis = await startRedis();
    return new RedisRecordStore({ url: redis.url });
  },
  async () => redis?.stop(),
);
