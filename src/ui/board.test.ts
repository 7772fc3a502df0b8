// What a dashboard stream makes of actor changes: transitions timed only when seen whole,
// activations bucketed, memory bounded.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Actor, ActorStatus } from "../records/index.ts";
import { Board, boardLimits, poolSummaries } from "./board.ts";

const actor = (actorId: string, status: ActorStatus, extra: Partial<Actor> = {}): Actor => ({
  atespace: "a",
  actorId,
  version: 1,
  templateNamespace: "default",
  templateName: "counter",
  status,
  createdAt: "2026-01-01T00:00:00Z",
  ...extra,
});

describe("the dashboard's board", () => {
  it("times a transition it saw begin, and counts a timed resume as an activation", () => {
    let now = 1_000_000;
    const b = new Board(() => now);
    b.put(actor("x", "SUSPENDED"), false);
    b.put(actor("x", "RESUMING"), true);
    now += 250;
    b.put(actor("x", "RUNNING"), true);
    const v = b.view();
    assert.deepEqual(v.transitions, [
      { actor: "a/x", from: "RESUMING", to: "RUNNING", at: now, durationMs: 250 },
    ]);
    const busy = v.activations.filter((x) => x.count);
    assert.deepEqual(
      busy.map((x) => [x.count, x.meanMs, x.maxMs]),
      [[1, 250, 250]],
    );
    assert.equal(v.activations.length, boardLimits.buckets);
  });

  it("leaves a transition untimed when it began before the stream, or was skipped", () => {
    let now = 5_000_000;
    const b = new Board(() => now);
    b.put(actor("x", "RESUMING"), false); // begun before the stream: when is unknown
    now += 100;
    b.put(actor("x", "RUNNING"), true);
    b.put(actor("x", "SUSPENDED"), true); // straight from RUNNING: its SUSPENDING unseen
    const v = b.view();
    assert.deepEqual(
      v.transitions.map((t) => [t.from, t.to, t.durationMs]),
      [
        ["RUNNING", "SUSPENDED", undefined],
        ["RESUMING", "RUNNING", undefined],
      ],
    );
    assert.equal(v.activations.filter((x) => x.count).length, 0);
  });

  it("keeps a bounded history, drops old activations, and forgets deleted actors", () => {
    let now = 9_000_000;
    const b = new Board(() => now);
    for (let i = 0; i < boardLimits.transitions + 10; i++) {
      b.put(actor("x", "RESUMING"), true);
      b.put(actor("x", "RUNNING"), true);
    }
    assert.equal(b.view().transitions.length, boardLimits.transitions);
    now += boardLimits.buckets * boardLimits.bucketMs;
    assert.equal(b.view().activations.filter((x) => x.count).length, 0);
    b.delete("a", "x");
    assert.deepEqual(b.view().actors, []);
  });

  it("shows no secrets: only the fields it names", () => {
    const b = new Board();
    b.put(
      actor("x", "RUNNING", {
        worker: {
          namespace: "d",
          name: "w1",
          pool: "p",
          node: "n1",
          address: "10.0.0.2",
          uid: "u",
        },
        snapshotsConfig: { location: "s3://bucket/x" },
        transition: { op: "suspend", owner: "cp-1", expiresAt: 1 },
      }),
      false,
    );
    assert.deepEqual(b.view().actors, [
      {
        atespace: "a",
        actorId: "x",
        template: "default/counter",
        status: "RUNNING",
        transition: "suspend",
        tier: "running",
        worker: "w1",
        pool: "p",
        node: "n1",
      },
    ]);
  });

  it("sums workers per pool", () => {
    const w = (pool: string, busy: boolean) => ({
      namespace: "d",
      pool,
      name: `${pool}-${Math.random()}`,
      uid: "u",
      node: "n",
      address: "a",
      version: 1,
      ...(busy
        ? { actor: { atespace: "a", templateNamespace: "d", templateName: "t", actorId: "x" } }
        : {}),
    });
    assert.deepEqual(poolSummaries([w("q", true), w("p", false), w("q", false)]), [
      { pool: "d/p", free: 1, assigned: 0 },
      { pool: "d/q", free: 1, assigned: 1 },
    ]);
  });
});
