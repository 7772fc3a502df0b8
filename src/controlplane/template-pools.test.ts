// The anchor's workerPoolRef and spec.resources.limits in pool selection.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { actorTemplate, workerPool } from "../api/testing.ts";
import type { ActorTemplate, WorkerPool } from "../api/v1alpha1/index.ts";
import type { Actor } from "../records/index.ts";
import { eligiblePools } from "./scheduler.ts";
import { fitsLimits, matchesPoolRef } from "./template-pools.ts";

const template = (spec: Record<string, unknown>, namespace = "apps") =>
  actorTemplate("t", spec, namespace) as unknown as ActorTemplate;
const pool = (name: string, namespace: string, limits?: Record<string, string>) =>
  workerPool(
    name,
    limits ? { template: { resources: { limits } } } : {},
    namespace,
  ) as unknown as WorkerPool;

describe("workerPoolRef", () => {
  it("names one pool; its namespace defaults to the template's", () => {
    const own = template({ workerPoolRef: { name: "p" } });
    assert.equal(matchesPoolRef(own, pool("p", "apps")), true);
    assert.equal(matchesPoolRef(own, pool("p", "other")), false);
    assert.equal(matchesPoolRef(own, pool("q", "apps")), false);
    const there = template({ workerPoolRef: { name: "p", namespace: "other" } });
    assert.equal(matchesPoolRef(there, pool("p", "other")), true);
    assert.equal(matchesPoolRef(template({}), pool("anything", "x")), true);
  });

  it("narrows eligible pools together with the class gate and selectors", () => {
    const pools = [pool("p", "apps"), pool("p", "other"), pool("q", "apps")];
    const names = (t: ActorTemplate) =>
      eligiblePools(t, {} as Actor, pools).map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
    assert.deepEqual(names(template({ workerPoolRef: { name: "p" } })), ["apps/p"]);
    assert.deepEqual(
      names(template({ workerPoolRef: { name: "p" }, sandboxClass: "microvm" })),
      [],
    );
    assert.equal(names(template({})).length, 3);
  });
});

describe("spec.resources.limits", () => {
  const sized = template({ resources: { limits: { cpu: "2", memory: "1Gi" } } });

  it("passes over pools whose workers are smaller; pools without limits hold any", () => {
    assert.equal(fitsLimits(sized, pool("big", "a", { cpu: "2", memory: "2Gi" })), true);
    assert.equal(fitsLimits(sized, pool("none", "a")), true);
    assert.equal(fitsLimits(sized, pool("cpu", "a", { memory: "4Gi" })), true);
    assert.equal(fitsLimits(sized, pool("small", "a", { cpu: "1500m", memory: "2Gi" })), false);
    assert.equal(fitsLimits(sized, pool("tiny", "a", { cpu: "4", memory: "512Mi" })), false);
    assert.equal(fitsLimits(template({}), pool("tiny", "a", { memory: "32Mi" })), true);
  });

  it("a quantity too large to read fits no pool that has that limit", () => {
    const huge = template({ resources: { limits: { memory: "1e400" } } });
    assert.equal(fitsLimits(huge, pool("p", "a", { memory: "1Gi" })), false);
    assert.equal(fitsLimits(huge, pool("p", "a")), true);
  });
});
