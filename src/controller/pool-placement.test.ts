// Placing pools' replicas on nodes: one node as one machine always did, and the spread over
// several (even, by class, free workers moved to a node that joins, busy ones never).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { workerPool } from "../api/testing.ts";
import type { WorkerPool } from "../api/v1alpha1/index.ts";
import { defaultMaxWorkers } from "./pool-capacity.ts";
import { type PlacementNode, type PoolAsk, type PoolPlan, placePools } from "./pool-placement.ts";
import { shortRefusal } from "./pool-refusal.ts";

const Mi = 1024 ** 2;
const Gi = 1024 * Mi;

function node(name: string, workers: number, existing = 0, more: Partial<PlacementNode> = {}) {
  return {
    name,
    capacity: { workers, source: `--max-workers ${workers}` },
    resources: { memoryBytes: 64 * Gi, cpuMillis: 64_000 },
    existing,
    placeable: true,
    ...more,
  };
}

const req = (memoryBytes = 0, cpuMillis = 0) => ({
  memoryBytes,
  cpuMillis,
  memoryField: "m",
  cpuField: "c",
});

/** A pool: `have` maps node → [workers, free ones]; every node given is eligible by default. */
function ask(
  key: string,
  want: number,
  have: Record<string, [number, number]> = {},
  o: { requests?: PoolAsk["requests"]; eligible?: string[] } = {},
): PoolAsk {
  return {
    key,
    want,
    requests: o.requests ?? req(),
    eligible: o.eligible ?? ["a", "b", "c", "n1"],
    have: new Map(Object.entries(have).map(([n, [total, free]]) => [n, { total, free }])),
  };
}

/** Plans as plain objects: admitted ones as {create, remove}, refused ones as they are. */
function plain(plans: Map<string, PoolPlan>) {
  return Object.fromEntries(
    [...plans].map(([k, p]) => [
      k,
      p.admitted
        ? { create: Object.fromEntries(p.create), remove: Object.fromEntries(p.remove) }
        : p,
    ]),
  );
}

describe("placing pools on one node", () => {
  it("admits growing pools oldest first, each wholly or not at all, counting every worker", () => {
    const plans = placePools(
      [node("n1", 10, 6)],
      [
        ask("old", 4, { n1: [2, 2] }),
        ask("big", 100_000),
        ask("shrinking", 1, { n1: [4, 4] }),
        ask("next", 2),
        ask("late", 1),
      ],
    );
    const short = (others: number, fits: number) => ({
      admitted: false,
      why: "short",
      nodes: [
        {
          node: "n1",
          kind: "capacity",
          capacity: { workers: 10, source: "--max-workers 10" },
          others,
          fits,
        },
      ],
    });
    assert.deepEqual(plain(plans), {
      old: { create: { n1: 2 }, remove: {} },
      big: short(6, 2),
      shrinking: { create: {}, remove: { n1: 3 } },
      next: { create: { n1: 2 }, remove: {} },
      late: short(6, 0),
    });
    assert.equal(defaultMaxWorkers(1024 ** 3), 4, "one worker per 256 MiB");
    assert.equal(defaultMaxWorkers(1), 1);
  });

  it("shares memory and CPU by requests oldest first; refused pools' workers still count", () => {
    const plans = placePools(
      [node("n1", 1000, 3, { resources: { memoryBytes: 2 * Gi, cpuMillis: 2000 } })],
      [
        ask("old", 2, { n1: [2, 2] }, { requests: req(512 * Mi, 500) }),
        ask("free", 100),
        ask("big", 3, { n1: [1, 1] }, { requests: req(512 * Mi) }),
        ask("cpu", 3, {}, { requests: req(0, 500) }),
        ask("small", 1, {}, { requests: req(256 * Mi, 500) }),
      ],
    );
    const short = (resource: string, perWorker: number, total: number, others: number) => ({
      admitted: false,
      why: "short",
      nodes: [
        {
          node: "n1",
          kind: "resources",
          resource,
          perWorker,
          field: resource === "memory" ? "m" : "c",
          total,
          others,
          fits: 2,
        },
      ],
    });
    assert.deepEqual(plain(plans), {
      old: { create: {}, remove: {} },
      free: { create: { n1: 100 }, remove: {} },
      big: short("memory", 512 * Mi, 2 * Gi, Gi),
      cpu: short("cpu", 500, 2000, 1000),
      small: { create: { n1: 1 }, remove: {} },
    });
  });
});

describe("placing pools on several nodes", () => {
  it("spreads new workers evenly over the nodes that can run the pool", () => {
    const plans = placePools(
      [node("a", 10), node("b", 10), node("c", 10)],
      [ask("p", 5), ask("q", 4, {}, { eligible: ["a", "b"] })],
    );
    assert.deepEqual(plain(plans), {
      p: { create: { a: 2, b: 2, c: 1 }, remove: {} },
      q: { create: { a: 2, b: 2 }, remove: {} },
    });
  });

  it("goes where there is room, and puts the next worker on the node with fewer workers", () => {
    const plans = placePools([node("a", 1), node("b", 10, 3)], [ask("p", 4)]);
    assert.deepEqual(plain(plans), { p: { create: { a: 1, b: 3 }, remove: {} } });
  });

  it("moves free workers to a node that joins, never busy ones", () => {
    assert.deepEqual(
      plain(placePools([node("a", 10, 4), node("b", 10)], [ask("p", 4, { a: [4, 4] })])),
      { p: { create: { b: 2 }, remove: { a: 2 } } },
      "evened out",
    );
    assert.deepEqual(
      plain(placePools([node("a", 10, 4), node("b", 10)], [ask("p", 4, { a: [4, 1] })])),
      { p: { create: { b: 1 }, remove: { a: 1 } } },
      "only the free one moves",
    );
    assert.deepEqual(
      plain(placePools([node("a", 10, 4), node("b", 10)], [ask("p", 4, { a: [4, 0] })])),
      { p: { create: {}, remove: {} } },
      "busy: nothing moves",
    );
  });

  it("replaces on the others the workers of a node that is gone", () => {
    // Node b was lost: its workers left the records and it is not among the live nodes.
    const plans = placePools([node("a", 10, 2), node("c", 10)], [ask("p", 4, { a: [2, 2] })]);
    assert.deepEqual(plain(plans), { p: { create: { c: 2 }, remove: {} } });
  });

  it("removes free workers from nodes that cannot run the pool; busy ones count until freed", () => {
    const plans = placePools(
      [node("a", 10, 2), node("b", 10, 2)],
      [ask("p", 2, { a: [2, 1], b: [0, 0] }, { eligible: ["b"] })],
    );
    assert.deepEqual(plain(plans), { p: { create: { b: 1 }, remove: { a: 1 } } });
  });

  it("leaves a node that did not answer alone: its workers count, nothing made there", () => {
    const plans = placePools(
      [node("a", 10, 3, { placeable: false }), node("b", 10)],
      [ask("p", 4, { a: [3, 3] })],
    );
    assert.deepEqual(plain(plans), { p: { create: { b: 1 }, remove: {} } });
  });

  it("refuses a pool no live node can run, or that does not fit on them, saying why per node", () => {
    assert.deepEqual(plain(placePools([node("a", 10)], [ask("p", 1, {}, { eligible: [] })])), {
      p: { admitted: false, why: "no-node" },
    });
    const plans = placePools(
      [
        node("a", 2),
        node("b", 10, 0, { resources: { memoryBytes: Gi, cpuMillis: 4000 } }),
        node("c", 3, 2),
      ],
      [ask("p", 6, {}, { requests: req(512 * Mi) })],
    );
    const plan = plans.get("p");
    assert.ok(plan && !plan.admitted && plan.why === "short");
    const pool = workerPool("p", { replicas: 6 }) as WorkerPool;
    assert.deepEqual(shortRefusal(pool, plan.nodes), {
      reason: "InsufficientNodeResources",
      message:
        "spec.replicas 6 does not fit on the 3 nodes that can run it (at most 5 do): node a holds at most 2 workers (--max-workers 2) and 0 of them belong to other pools, so at most 2 fit; node b has 1024Mi of memory and older pools request 0 of it, so at most 2 workers of m 512Mi fit; node c holds at most 3 workers (--max-workers 3) and 2 of them belong to other pools, so at most 1 fit: lower spec.replicas, make room on these nodes (lower requests, or remove other pools), or add nodes",
    });
  });
});
