import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { matchesSelector, parseSelector } from "./selector.ts";

describe("label selectors", () => {
  it("parse kubectl syntax", () => {
    assert.deepEqual(parseSelector("a=b, c!=d,e in (x, y),!f,g,h==i"), {
      matchLabels: { a: "b", h: "i" },
      matchExpressions: [
        { key: "c", operator: "NotIn", values: ["d"] },
        { key: "e", operator: "In", values: ["x", "y"] },
        { key: "f", operator: "DoesNotExist" },
        { key: "g", operator: "Exists" },
      ],
    });
    assert.throws(() => parseSelector("a=b=c"), /unable to parse label selector term "a=b=c"/);
  });

  it("match with ANDed requirements", () => {
    const sel = parseSelector("pool=a,tier notin (gpu),!draining");
    assert.ok(matchesSelector(sel, { pool: "a" }));
    assert.ok(matchesSelector(sel, { pool: "a", tier: "cpu" }));
    assert.ok(!matchesSelector(sel, { pool: "a", tier: "gpu" }));
    assert.ok(!matchesSelector(sel, { pool: "a", draining: "" }));
    assert.ok(!matchesSelector(sel, { pool: "b" }));
    assert.ok(matchesSelector(undefined, {}));
    assert.ok(matchesSelector({}, { x: "y" }));
  });

  it("reject unknown operators by name", () => {
    assert.throws(
      () => matchesSelector({ matchExpressions: [{ key: "k", operator: "Near" }] }, {}),
      /operator "Near" for key "k"/,
    );
  });
});
