// Control planes' presence on a shared records store, and the reconciler taking the unexpired
// transitions of an owner that is gone (kill -9) while leaving a live owner's alone.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { declareNoopPool } from "../../test/support/noop-pool.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import type { LeaseClock } from "../lease/index.ts";
import { silentLogger } from "../log/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { Presence } from "./presence.ts";

/** A clock the test moves; sleeps end when it passes their time (or on abort). */
function manualClock(): LeaseClock & { advance(ms: number): Promise<void> } {
  let now = 0;
  const sleepers = new Set<{ until: number; wake: () => void }>();
  return {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const s = {
          until: now + ms,
          wake: () => {
            sleepers.delete(s);
            resolve();
          },
        };
        sleepers.add(s);
        signal?.addEventListener("abort", s.wake, { once: true });
      }),
    async advance(ms) {
      now += ms;
      for (const s of [...sleepers]) if (s.until <= now) s.wake();
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    },
  };
}

describe("control plane presence", () => {
  const store = new SqliteRecordStore(":memory:");
  after(() => store.close());

  it("tells a live owner from one released, missing or no longer renewing", async () => {
    const clock = manualClock();
    const leader = new Presence({ store, owner: "cp-a", ttlMs: 1000, clock, logger: silentLogger });
    const other = new Presence({ store, owner: "cp-b", ttlMs: 1000, clock, logger: silentLogger });
    const stop = new AbortController();
    let held = () => {};
    const holding = new Promise<void>((r) => {
      held = r;
    });
    const run = other.run({ signal: stop.signal }, held);
    await holding;
    assert.equal(await leader.gone("cp-a"), false, "itself");
    assert.equal(await leader.gone("cp-b"), false, "renewing");
    assert.equal(await leader.gone("cp-never"), true, "no presence: gone");
    for (let i = 0; i < 5; i++) await clock.advance(400);
    assert.equal(await leader.gone("cp-b"), false, "still renewing");
    // A crash: cp-b's record stays as it was, never renewed again.
    await store.commit([
      {
        kind: "lease",
        key: "presence.cp-c",
        expectVersion: 0,
        value: { name: "presence.cp-c", holder: "cp-c", fence: 1, ttlMs: 1000, renewedAt: "" },
      },
    ]);
    assert.equal(await leader.gone("cp-c"), false, "first seen: counts from now");
    await clock.advance(999);
    assert.equal(await leader.gone("cp-c"), false);
    await clock.advance(1);
    assert.equal(await leader.gone("cp-c"), true, "unrenewed for its ttl");
    await leader.sweep();
    assert.equal(await store.get("lease", "presence.cp-c"), undefined, "forgotten");
    assert.ok(await store.get("lease", "presence.cp-b"), "a live one stays");
    stop.abort();
    await run;
    assert.equal(await leader.gone("cp-b"), true, "released on stop");
  });

  it("lets the reconciler take over a gone owner's unexpired transition, not a live one's", async () => {
    const resources = new SqliteResourceStore({ path: ":memory:" });
    const records = new Records(new SqliteRecordStore(":memory:"));
    const agent = new NoopNodeAgent();
    const cp = new ControlPlane({
      records,
      resources,
      nodes: new StaticNodeDirectory({ n1: agent }),
    });
    try {
      await declareNoopPool(resources, records, agent, { replicas: 2 });
      await cp.createAtespace("t");
      const marked = [];
      for (const [name, owner] of [
        ["a", "alive"],
        ["b", "gone"],
      ] as const) {
        await cp.createActor({ atespace: "t", name }, "default", "counter");
        const running = await cp.resumeActor({ atespace: "t", name });
        marked.push(
          await records.updateActor({
            ...running,
            status: "SUSPENDING",
            inProgressSnapshot: `file:///nowhere/t/${name}/never-written`,
            transition: {
              op: "suspend",
              owner,
              expiresAt: Date.now() + 600_000,
              worker: running.worker?.name,
            },
          }),
        );
      }
      assert.equal(await cp.reconcile(false), 0, "nothing expired");
      assert.equal(await cp.reconcile(false, undefined, async (o) => o === "gone"), 1);
      const a = await cp.getActor({ atespace: "t", name: "a" });
      const b = await cp.getActor({ atespace: "t", name: "b" });
      assert.equal(a.status, "SUSPENDING", "a live owner's transition is left to it");
      assert.equal(b.status, "RUNNING", "the gone owner's is settled: its sandbox still runs");
      assert.equal(b.transition, undefined);
    } finally {
      await records.store.close();
      await resources.close();
    }
  });
});
