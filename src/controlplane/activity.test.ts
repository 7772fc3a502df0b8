// Two control planes sharing Valkey: a change made through one reaches a watcher on the
// other; routers' reports reaching either count for the leader's idle decisions and for
// the drain before a checkpoint; reports are checked like any input.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { type RunningValkey, startValkey } from "../../test/support/valkey.ts";
import { actorTemplate, sandboxConfig, workerPool } from "../api/testing.ts";
import { ActorTemplateType, SandboxConfigType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { Records, RedisRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { ActivityController } from "./activity.ts";
import type { IncomingReport } from "./activity-board.ts";
import type { ActorWatchEvent } from "./actor-watch.ts";
import { ControlPlane } from "./control-plane.ts";
import { StaticNodeDirectory } from "./nodes.ts";

const ref = (name: string) => ({ atespace: "t", name });
const code = (c: Code) => (e: unknown) => isAteError(e, c);

describe("activity and watches across two control planes on Valkey", () => {
  let valkey: RunningValkey;
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const agent = new NoopNodeAgent();
  let a: ControlPlane;
  let b: ControlPlane;
  const report = (cp: ControlPlane, r: Partial<IncomingReport> & { routerId: string }) =>
    cp.reportActivity({ sequence: 1, actors: [], ...r });
  const entry = (name: string, e: Partial<IncomingReport["actors"][number]> = {}) => ({
    atespace: "t",
    name,
    inFlight: 0,
    version: 0,
    waiting: 0,
    ...e,
  });

  before(async () => {
    valkey = await startValkey();
    const open = () =>
      new ControlPlane({
        records: new Records(new RedisRecordStore({ url: valkey.url })),
        resources,
        nodes: new StaticNodeDirectory({ n1: agent }),
        drainTimeoutMs: 5000,
        routerStaleMs: 1500,
      });
    a = open();
    b = open();
    await resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
    await resources.create(WorkerPoolType, workerPool("p", { replicas: 3 }));
    const t = actorTemplate("idle");
    t.metadata.annotations = { "ate.dev/idle-timeout-seconds": "1" };
    await resources.create(ActorTemplateType, t);
    for (let i = 0; i < 3; i++) {
      const w = await agent.createWorker(`w${i}`);
      await a.records.putWorker({
        namespace: "default",
        pool: "p",
        name: `w${i}`,
        uid: `u${i}`,
        node: "n1",
        address: w.address,
        version: 0,
      });
    }
    await a.createAtespace("t");
    for (const id of ["x", "y", "z"]) await a.createActor(ref(id), "default", "idle");
  });
  after(async () => {
    await a.records.store.close();
    await b.records.store.close();
    await resources.close();
    await valkey.stop();
  });

  it("shows a watcher on one control plane the changes made through the other", async () => {
    const ac = new AbortController();
    const events: ActorWatchEvent[] = [];
    const synced = () => events.filter((e) => e.type === "SYNCED").length;
    const watching = (async () => {
      for await (const e of b.watchActors({ atespace: "t", signal: ac.signal })) events.push(e);
    })().catch(() => {});
    while (synced() < 1) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      events.filter((e) => e.type === "PUT").map((e) => e.type === "PUT" && e.actor.actorId),
      ["x", "y", "z"],
      "the list first",
    );
    await a.resumeActor(ref("x"));
    while (!events.some((e) => e.type === "PUT" && e.actor.status === "RUNNING"))
      await new Promise((r) => setTimeout(r, 10));
    const puts = events.filter((e) => e.type === "PUT" && e.cursor);
    assert.deepEqual(
      puts.map((e) => e.type === "PUT" && e.actor.status),
      ["RESUMING", "RUNNING"],
    );
    ac.abort();
    await watching;
    // Again from the last cursor: only what came since, no list.
    const cursor = (puts.at(-1) as { cursor: string }).cursor;
    await a.suspendActor(ref("x"));
    const again = new AbortController();
    const later: ActorWatchEvent[] = [];
    for await (const e of b.watchActors({ after: cursor, signal: again.signal })) {
      later.push(e);
      if (e.type === "SYNCED") break;
    }
    assert.deepEqual(
      later.map((e) => (e.type === "PUT" ? e.actor.status : e.type)),
      ["SUSPENDING", "SUSPENDED", "SYNCED"],
    );
    await assert.rejects(
      (async () => {
        // A cursor from beyond the stream's end: not from this store (e.g. cleared since).
        const future = `${Date.now() + 86_400_000}-0`;
        for await (const _ of b.watchActors({ after: future, signal: again.signal })) break;
      })(),
      code(Code.OutOfRange),
    );
  });

  it("suspends an idle actor only when no router's report, at either control plane, keeps it busy", async () => {
    const leader = new ActivityController({ controlPlane: b, resources });
    await a.resumeActor(ref("y"));
    const version = (await a.getActor(ref("y"))).version;
    await leader.pass(); // sees y's run
    // Router 1 (reporting to a) has a request to y under way; router 2 (to b) saw none.
    await report(a, {
      routerId: "r1",
      actors: [entry("y", { inFlight: 1, idleMillis: 5000, version })],
    });
    await report(b, { routerId: "r2", actors: [] });
    await leader.pass();
    assert.equal((await b.getActor(ref("y"))).status, "RUNNING", "busy at router 1");
    await report(a, {
      routerId: "r1",
      sequence: 2,
      actors: [entry("y", { idleMillis: 5000, version })],
    });
    await leader.pass();
    for (let i = 0; (await b.getActor(ref("y"))).status !== "SUSPENDING"; i++) {
      assert.ok(i < 100, "marked for suspension");
      await new Promise((r) => setTimeout(r, 20));
    }
    // The checkpoint waits for each router's word since the mark: router 1 saw it.
    const marked = await b.getActor(ref("y"));
    await report(a, { routerId: "r2", sequence: 2 });
    await report(b, {
      routerId: "r1",
      sequence: 3,
      actors: [entry("y", { idleMillis: 5000, version: marked.version })],
    });
    for (let i = 0; (await b.getActor(ref("y"))).status !== "SUSPENDED"; i++) {
      assert.ok(i < 100, "suspended");
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it("holds a checkpoint until a router reporting to the other control plane is done", async () => {
    await new Promise((r) => setTimeout(r, 1600)); // the earlier routers have gone silent
    await a.resumeActor(ref("z"));
    const running = await a.getActor(ref("z"));
    await report(b, {
      routerId: "r3",
      actors: [entry("z", { inFlight: 1, version: running.version })],
    });
    let done = false;
    const suspend = a.suspendActor(ref("z")).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(done, false, "waits for router 3");
    const marked = await a.getActor(ref("z"));
    assert.equal(marked.status, "SUSPENDING");
    // Router 3 saw the mark and finished its request.
    await report(b, {
      routerId: "r3",
      sequence: 2,
      actors: [entry("z", { version: marked.version })],
    });
    const reported = Date.now();
    await suspend;
    assert.ok(Date.now() - reported < 800, "went ahead at router 3's word, not its silence");
    assert.equal((await a.getActor(ref("z"))).status, "SUSPENDED");
  });

  it("refuses malformed reports, naming the field", async () => {
    const bad: [Partial<IncomingReport> & { routerId: string }, RegExp][] = [
      [{ routerId: "" }, /router_id/],
      [{ routerId: "a/b" }, /router_id/],
      [{ routerId: "x".repeat(129) }, /router_id/],
      [{ routerId: "r", sequence: -1 }, /sequence/],
      [{ routerId: "r", actors: [entry("Bad_Name")] }, /actors\[0\]\.actor_ref\.name/],
      [{ routerId: "r", actors: [entry("y", { inFlight: -1 })] }, /actors\[0\]\.in_flight/],
      [{ routerId: "r", actors: [entry("y", { waiting: 1e12 })] }, /actors\[0\]\.waiting/],
      [{ routerId: "r", actors: [entry("y", { idleMillis: -5 })] }, /idle_millis/],
      [{ routerId: "r", actors: Array.from({ length: 20_001 }, () => entry("y")) }, /Too many/],
    ];
    for (const [r, field] of bad)
      await assert.rejects(
        report(a, r),
        (e) => isAteError(e, Code.InvalidArgument) && field.test(e.message),
        String(field),
      );
  });
});

describe("actor watches on one control plane", () => {
  it("are bounded in number, and a finished one frees its place", async () => {
    const { SqliteRecordStore } = await import("../records/index.ts");
    const resources = new SqliteResourceStore({ path: ":memory:" });
    const cp = new ControlPlane({
      records: new Records(new SqliteRecordStore(":memory:")),
      resources,
      nodes: new StaticNodeDirectory({}),
      maxWatches: 1,
    });
    const ac = new AbortController();
    const first = cp.watchActors({ signal: ac.signal });
    assert.equal((await first.next()).value?.type, "SYNCED");
    const second = cp.watchActors({ signal: ac.signal });
    await assert.rejects(second.next(), code(Code.ResourceExhausted));
    await first.return(undefined);
    const third = cp.watchActors({ signal: ac.signal });
    assert.equal((await third.next()).value?.type, "SYNCED");
    ac.abort();
    await third.return(undefined);
    await cp.records.store.close();
    await resources.close();
  });
});
