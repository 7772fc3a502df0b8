// The frozen tier's decisions and transitions on a no-op node agent: who is frozen and when,
// a thaw on ResumeActor (no worker claimed), eviction taking frozen actors first, and the
// record order that keeps a paused sandbox always marked frozen.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { declareNoopPool } from "../../test/support/noop-pool.ts";
import { actorTemplate } from "../api/testing.ts";
import { ActorTemplateType } from "../api/v1alpha1/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { ActivityController } from "./activity.ts";
import { ControlPlane } from "./control-plane.ts";
import {
  ChangeTracker,
  evictionOrder,
  freezeAfterAnnotation,
  parseGoDuration,
  shouldFreeze,
  templateFreezeAfter,
} from "./freeze-policy.ts";
import { StaticNodeDirectory } from "./nodes.ts";

describe("frozen tier decisions", () => {
  it("reads Go durations, and nothing else", () => {
    assert.equal(parseGoDuration("3s"), 3000);
    assert.equal(parseGoDuration("500ms"), 500);
    assert.equal(parseGoDuration("1m30s"), 90_000);
    assert.equal(parseGoDuration("1.5s"), 1500);
    assert.equal(parseGoDuration("0"), 0);
    for (const bad of ["", "3", "-1s", "1 s", "s", "1d", "1e9h", "3s "])
      assert.equal(parseGoDuration(bad), undefined, bad);
  });

  it("takes a template's annotation where valid; '0' turns the tier off", () => {
    const t = (name: string, v: string) => {
      const r = actorTemplate(name);
      r.metadata.annotations = { [freezeAfterAnnotation]: v };
      return r as never;
    };
    const m = templateFreezeAfter([t("a", "2s"), t("b", "0"), t("c", "soon")]);
    assert.deepEqual(
      [...m],
      [
        ["default/a", 2000],
        ["default/b", 0],
      ],
    );
  });

  it("freezes only a RUNNING, unfrozen, idle actor, before its idle timeout", () => {
    const base = {
      actor: { status: "RUNNING" as const },
      busy: false,
      idleMs: 5000,
      freezeAfterMs: 3000,
      idleTimeoutMs: 300_000,
    };
    assert.equal(shouldFreeze(base), true);
    assert.equal(shouldFreeze({ ...base, idleTimeoutMs: 0 }), true, "never suspended");
    assert.equal(shouldFreeze({ ...base, busy: true }), false);
    assert.equal(shouldFreeze({ ...base, idleMs: 2999 }), false);
    assert.equal(shouldFreeze({ ...base, freezeAfterMs: 0 }), false, "tier off");
    assert.equal(shouldFreeze({ ...base, idleTimeoutMs: 2000 }), false, "suspended first");
    assert.equal(shouldFreeze({ ...base, actor: { status: "RUNNING", tier: "frozen" } }), false);
    assert.equal(shouldFreeze({ ...base, actor: { status: "SUSPENDING" } }), false);
    const transition = { op: "suspend" as const, owner: "x", expiresAt: 0 };
    assert.equal(shouldFreeze({ ...base, actor: { status: "RUNNING", transition } }), false);
  });

  it("evicts frozen actors first, then the least recently active", () => {
    const order = evictionOrder([
      { key: "old", lastActive: 1, frozen: false },
      { key: "frozen-new", lastActive: 9, frozen: true },
      { key: "frozen-old", lastActive: 5, frozen: true },
    ]);
    assert.deepEqual(
      order.map((c) => c.key),
      ["frozen-old", "frozen-new", "old"],
    );
  });

  it("counts a change seen while not frozen (a thaw) as use", () => {
    const t = new ChangeTracker();
    assert.equal(t.changedAt("a", { version: 1 }, 100), 0, "first look: no change seen");
    assert.equal(t.changedAt("a", { version: 1 }, 200), 0);
    assert.equal(t.changedAt("a", { version: 2, tier: "frozen" }, 300), 0, "frozen");
    assert.equal(t.changedAt("a", { version: 3 }, 400), 400, "thawed");
    assert.equal(t.changedAt("a", { version: 3 }, 500), 400);
    t.retain(new Set());
    assert.equal(t.changedAt("a", { version: 3 }, 600), 0, "forgotten");
  });
});

describe("frozen tier transitions", () => {
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new NoopNodeAgent();
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
  });
  const ref = (name: string) => ({ atespace: "t", name });
  let now = 1_000_000;
  const leader = new ActivityController({
    controlPlane: cp,
    resources,
    clock: { now: () => new Date(now) },
  });

  before(async () => {
    await declareNoopPool(resources, records, agent, { replicas: 2 });
    const quick = actorTemplate("quick");
    quick.metadata.annotations = { [freezeAfterAnnotation]: "2s" };
    await resources.create(ActorTemplateType, quick);
    const off = actorTemplate("off");
    off.metadata.annotations = { [freezeAfterAnnotation]: "0" };
    await resources.create(ActorTemplateType, off);
    await cp.createAtespace("t");
    await cp.createActor(ref("q"), "default", "quick");
    await cp.createActor(ref("o"), "default", "off");
  });
  after(async () => {
    await records.store.close();
    await resources.close();
  });

  const settle = async () => {
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  };

  it("freezes an idle actor in place after its template's time; RUNNING, tier frozen", async () => {
    const running = await cp.resumeActor(ref("q"));
    await cp.resumeActor(ref("o"));
    await leader.pass(); // first look: counts from now
    now += 1900;
    await leader.pass();
    await settle();
    assert.equal((await cp.getActor(ref("q"))).tier, undefined, "not yet");
    now += 200;
    await leader.pass();
    // Marked first, then paused, then the mark confirmed (a new version).
    const marked = running.version + 1;
    for (let i = 0; (await cp.getActor(ref("q"))).version <= marked; i++) {
      assert.ok(i < 100, "frozen");
      await new Promise((r) => setTimeout(r, 10));
    }
    const frozen = await cp.getActor(ref("q"));
    assert.equal(frozen.tier, "frozen");
    assert.equal(frozen.status, "RUNNING");
    assert.deepEqual(frozen.worker, running.worker, "keeps its worker");
    assert.ok(agent.frozen.has(running.worker?.name as string), "paused on the node");
    const o = await cp.getActor(ref("o"));
    assert.equal(o.tier, undefined, "'0' keeps the tier off");
    assert.ok(!agent.frozen.has(o.worker?.name as string));
  });

  it("thaws on ResumeActor without claiming a worker, and does not freeze it again at once", async () => {
    const restores = agent.calls.restore;
    const thawed = await cp.resumeActor(ref("q"));
    assert.equal(thawed.status, "RUNNING");
    assert.equal(thawed.tier, undefined);
    assert.equal(agent.frozen.size, 0, "resumed on the node");
    assert.equal(agent.calls.restore, restores, "no restore");
    // The router's report of that request has not arrived: the thaw itself counts as use.
    await leader.pass();
    await settle();
    assert.equal((await cp.getActor(ref("q"))).tier, undefined);
  });

  it("evicts the frozen actor first, by a checkpoint that ends its tier", async () => {
    now += 2500;
    await leader.pass();
    for (let i = 0; (await cp.getActor(ref("q"))).tier !== "frozen" || !agent.frozen.size; i++) {
      assert.ok(i < 100, "frozen again");
      await new Promise((r) => setTimeout(r, 10));
    }
    // o ran for longer without a request (least recently active), but q is frozen.
    await cp.createActor(ref("w"), "default", "counter");
    assert.equal(await leader.evictFor("t", "w"), true);
    const q = await cp.getActor(ref("q"));
    assert.equal(q.status, "SUSPENDED");
    assert.equal(q.tier, undefined);
    assert.equal((await cp.getActor(ref("o"))).status, "RUNNING");
    assert.equal(agent.frozen.size, 0);
    // It resumes later like any suspended actor.
    await cp.suspendActor(ref("o"));
    assert.equal((await cp.resumeActor(ref("q"))).status, "RUNNING");
  });

  it("is checkpointed by Pause and stopped like any running actor, its tier ending", async () => {
    const frozenNow = async () => {
      await cp.freezeActor(ref("q"));
      assert.equal(agent.frozen.size, 1);
    };
    await frozenNow();
    const paused = await cp.pauseActor(ref("q"));
    assert.equal(paused.status, "PAUSED");
    assert.equal(paused.tier, undefined);
    assert.equal(agent.frozen.size, 0);
    await cp.resumeActor(ref("q"));
    await frozenNow();
    const stopped = await cp.stopActor(ref("q"));
    assert.equal(stopped.status, "PAUSED", "back at its last (local) snapshot");
    assert.equal(stopped.tier, undefined);
    assert.equal(agent.frozen.size, 0);
    await cp.resumeActor(ref("q"));
  });

  it("is thawed by another control plane after the one that froze it died", async () => {
    await cp.freezeActor(ref("q"));
    const next = new ControlPlane({
      records,
      resources,
      nodes: new StaticNodeDirectory({ n1: agent }),
    });
    const thawed = await next.resumeActor(ref("q"));
    assert.equal(thawed.status, "RUNNING");
    assert.equal(thawed.tier, undefined);
    assert.equal(agent.frozen.size, 0);
  });

  it("answers a thaw once the sandbox runs; a crash before the mark comes off leaves it marked, and the next thaw takes it off", async () => {
    await cp.freezeActor(ref("q"));
    const frozen = await cp.getActor(ref("q"));
    // A control plane whose record writes never land (it dies right after the node's thaw).
    const dying = new Proxy(records, {
      get(target, key) {
        if (key === "updateActor") return () => new Promise(() => {});
        const v = Reflect.get(target, key);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const doomed = new ControlPlane({
      records: dying,
      resources,
      nodes: new StaticNodeDirectory({ n1: agent }),
    });
    const answer = await doomed.resumeActor(ref("q"));
    assert.equal(answer.status, "RUNNING");
    assert.equal(answer.tier, undefined, "the answer: it runs");
    assert.deepEqual(answer.worker, frozen.worker, "where it runs");
    assert.equal(agent.frozen.size, 0, "running on the node");
    const left = await cp.getActor(ref("q"));
    assert.equal(left.tier, "frozen", "a running sandbox marked frozen: safe");
    assert.equal(left.version, frozen.version);
    const thawed = await cp.resumeActor(ref("q"));
    assert.equal(thawed.tier, undefined);
    for (let i = 0; (await cp.getActor(ref("q"))).tier === "frozen"; i++) {
      assert.ok(i < 100, "the mark comes off");
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  it("after a crash between the mark and the pause, a thaw of a running sandbox is harmless", async () => {
    const q = await cp.getActor(ref("q"));
    // The record says frozen, the sandbox was never paused (the control plane died).
    await records.updateActor({ ...q, tier: "frozen" });
    const thawed = await cp.resumeActor(ref("q"));
    assert.equal(thawed.status, "RUNNING");
    assert.equal(thawed.tier, undefined);
  });
});
