// Two control planes sharing Valkey: a change made through one reaches a watcher on the
// other; routers' reports reaching either count for the leader's idle decisions and for
// the drain before a checkpoint; reports are checked like any input.
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
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
import type { ControlCaller } from "./caller.ts";
import { ControlPlane } from "./control-plane.ts";
import { StaticNodeDirectory } from "./nodes.ts";

const ref = (name: string) => ({ atespace: "t", name });
const router = (name: string): ControlCaller => ({ role: "router", name });
const tenant = (name: string, atespace = "t"): ControlCaller => ({
  role: "tenant",
  name,
  atespace,
});
const code = (c: Code) => (e: unknown) => isAteError(e, c);

describe("activity and watches across two control planes on Valkey", () => {
  let valkey: RunningValkey;
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const agent = new NoopNodeAgent();
  let a: ControlPlane;
  let b: ControlPlane;
  const report = (cp: ControlPlane, r: Partial<IncomingReport> & { routerId: string }) =>
    cp.reportActivity({ sequence: 1, actors: [], ...r }, router("edge"));
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
      for await (const e of b.watchActors({
        atespace: "t",
        signal: ac.signal,
        caller: router("edge"),
      }))
        events.push(e);
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
    for await (const e of b.watchActors({
      after: cursor,
      signal: again.signal,
      caller: router("edge"),
    })) {
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
        for await (const _ of b.watchActors({
          after: future,
          signal: again.signal,
          caller: router("edge"),
        }))
          break;
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
  let cp: ControlPlane;
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const ac = new AbortController();
  const open = (caller: ControlCaller) => cp.watchActors({ signal: ac.signal, caller });
  /** A watch that has started (its first event came), or the error it was refused with. */
  const started = async (caller: ControlCaller) => {
    const w = open(caller);
    assert.equal((await w.next()).value?.type, "SYNCED");
    return w;
  };
  const refused = (caller: ControlCaller, message: RegExp) =>
    assert.rejects(
      open(caller).next(),
      (e) => isAteError(e, Code.ResourceExhausted) && message.test(e.message),
    );
  before(async () => {
    const { SqliteRecordStore } = await import("../records/index.ts");
    cp = new ControlPlane({
      records: new Records(new SqliteRecordStore(":memory:")),
      resources,
      nodes: new StaticNodeDirectory({}),
      watchLimits: { total: 40, perToken: 16, reserved: 10 },
    });
  });
  after(async () => {
    ac.abort();
    await cp.records.store.close();
    await resources.close();
  });

  it("are bounded per token: a tenant's 17th is refused, naming the limit; a finished one frees its place", async () => {
    const mine = await Promise.all(Array.from({ length: 16 }, () => started(tenant("ci"))));
    await refused(
      tenant("ci"),
      /token "ci" \(tenant of atespace t\) has 16 actor watches open .*close one/,
    );
    // Another tenant, and routers, are not held back by it.
    const other = await started(tenant("other", "u"));
    const edge = await started(router("edge1"));
    await mine[0]?.return(undefined);
    mine[0] = await started(tenant("ci"));
    for (const w of [...mine, other, edge]) await w.return(undefined);
  });

  it("keep a share from tenants, so routers can always watch", async () => {
    // Tenants may hold total - reserved = 30 of 40, whichever tokens they use.
    const tenants = [];
    for (let i = 0; i < 30; i++) tenants.push(await started(tenant(`t${i % 3}`)));
    await refused(tenant("t9"), /tenants hold 30 actor watches .*kept for routers and admins/);
    const routers = [];
    for (let i = 0; i < 10; i++) routers.push(await started(router(`edge${i}`)));
    await refused(router("edge99"), /40 actor watches are open on this control plane already/);
    await refused({ role: "admin", name: "admin" }, /40 actor watches are open/);
    for (const w of [...tenants, ...routers]) await w.return(undefined);
  });

  it("bound routers per token, but not admins", async () => {
    const edge = [];
    for (let i = 0; i < 16; i++) edge.push(await started(router("edge1")));
    await refused(router("edge1"), /router token "edge1" has 16 actor watches open/);
    const admin = [];
    for (let i = 0; i < 20; i++) admin.push(await started({ role: "admin", name: "admin" }));
    for (const w of [...edge, ...admin]) await w.return(undefined);
  });
});

describe("activity reports, kept per token", () => {
  let cp: ControlPlane;
  let t: number;
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const report = (caller: string, r: Partial<IncomingReport> & { routerId: string }) =>
    cp.reportActivity(
      {
        sequence: 1,
        actors: [{ atespace: "t", name: "x", inFlight: 1, version: 0, waiting: 0 }],
        ...r,
      },
      router(caller),
    );
  const kept = async () =>
    (await cp.activity.reports()).map((r) => `${r.principal}/${r.routerId}@${r.sequence}`).sort();
  beforeEach(async () => {
    t = Date.parse("2026-01-01T00:00:00Z");
    const { SqliteRecordStore } = await import("../records/index.ts");
    cp = new ControlPlane({
      records: new Records(new SqliteRecordStore(":memory:")),
      resources,
      nodes: new StaticNodeDirectory({}),
      clock: { now: () => new Date(t) },
      routerStaleMs: 5000,
    });
  });
  afterEach(async () => {
    await cp.records.store.close();
  });
  after(() => resources.close());

  it("lets no token touch another's reports: a spoofed router id with a huge sequence is its own", async () => {
    const huge = Number.MAX_SAFE_INTEGER - 1;
    await report("edge1", { routerId: "r1", sequence: 5 });
    await report("thief", { routerId: "r1", sequence: huge, actors: [] });
    await report("edge1", { routerId: "r1", sequence: 6 });
    assert.deepEqual(await kept(), ["edge1/r1@6", `thief/r1@${huge}`]);
    const mine = (await cp.activity.reports()).find((r) => r.principal === "edge1");
    assert.equal(mine?.actors[0]?.inFlight, 1, "edge1's report still counts");
    // A farewell under another token forgets nothing of edge1's.
    await report("thief", { routerId: "r1", sequence: huge + 1, final: true });
    assert.deepEqual(await kept(), ["edge1/r1@6"]);
  });

  it("keeps at most 4 router ids per token, refused before anything is kept; a silent one gives its place", async () => {
    for (const id of ["a", "b", "c", "d"]) await report("edge1", { routerId: id });
    await assert.rejects(
      report("edge1", { routerId: "e" }),
      (e) =>
        isAteError(e, Code.ResourceExhausted) &&
        /token "edge1" reports for 4 routers already \(a, b, c, d\).*at most 4 are kept per token: give each router a token of its own/.test(
          e.message,
        ),
    );
    assert.ok(!(await kept()).some((k) => k.startsWith("edge1/e")), "nothing of it kept");
    await report("edge2", { routerId: "e" }); // other tokens are not held back
    t += 3000;
    await report("edge1", { routerId: "b", sequence: 2 });
    await report("edge1", { routerId: "c", sequence: 2 });
    await report("edge1", { routerId: "d", sequence: 2 });
    t += 3000; // a: silent for 6 s (stale); b, c, d: 3 s
    await report("edge1", { routerId: "e" });
    assert.deepEqual(await kept(), [
      "edge1/b@2",
      "edge1/c@2",
      "edge1/d@2",
      "edge1/e@1",
      "edge2/e@1",
    ]);
  });

  it("refuses a report with no token", async () => {
    await assert.rejects(cp.activity.report({ routerId: "r", sequence: 1, actors: [] }, ""), (e) =>
      isAteError(e, Code.Unauthenticated),
    );
  });

  it("keeps at most 1000 routers' reports in all, checked before any is kept", async () => {
    for (let i = 0; i < 250; i++)
      for (const id of ["a", "b", "c", "d"])
        await cp.reportActivity({ routerId: id, sequence: 1, actors: [] }, router(`e${i}`));
    await assert.rejects(
      report("late", { routerId: "r" }),
      (e) => isAteError(e, Code.ResourceExhausted) && /1000 routers/.test(e.message),
    );
    const all = await cp.activity.reports();
    assert.equal(all.length, 1000);
    assert.ok(!all.some((r) => r.principal === "late"), "not even in memory");
  });
});
