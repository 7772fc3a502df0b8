import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkContainers } from "./workload.ts";

const named = (...names: string[]) => ({
  containers: names.map((name) => ({ name, image: "r/i@sha256:0" })),
});

describe("a workload's containers", () => {
  it("are 1 to 10, each named once by a DNS label", () => {
    checkContainers(named("a"));
    checkContainers(named(...Array.from({ length: 10 }, (_, i) => `c${i}`)));
    assert.throws(
      () => checkContainers(named()),
      /containers: Invalid value: 0: an actor runs 1 to 10/,
    );
    assert.throws(
      () => checkContainers(named(...Array.from({ length: 11 }, (_, i) => `c${i}`))),
      /containers: Invalid value: 11: an actor runs 1 to 10 containers/,
    );
    assert.throws(() => checkContainers(named("a", "b", "a")), /containers: Duplicate value: "a"/);
    for (const bad of ["../x", "A", "-a", "a_b", "", "x".repeat(64)])
      assert.throws(
        () => checkContainers(named(bad)),
        /containers: Invalid value: .*DNS label/,
        bad,
      );
  });
});
