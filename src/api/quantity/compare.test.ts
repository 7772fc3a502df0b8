// Exact quantity comparison (the CEL quantity library's isLessThan, isGreaterThan, compareTo).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { evaluateCel } from "../schema/cel.ts";
import { compareQuantities, exactQuantity } from "./compare.ts";

const cmp = (a: string, b: string) =>
  compareQuantities(exactQuantity(a) ?? assert.fail(a), exactQuantity(b) ?? assert.fail(b));

describe("exact quantities", () => {
  it("compare across suffixes and exponents without rounding", () => {
    assert.equal(cmp("1Gi", "1073741824"), 0);
    assert.equal(cmp("1.5", "1500m"), 0);
    assert.equal(cmp("1e3", "1k"), 0);
    assert.equal(cmp("255.9999Mi", "256Mi"), -1);
    assert.equal(cmp("1n", "0"), 1);
    assert.equal(cmp("-1", "0"), -1);
    assert.equal(cmp(".5Ki", "512"), 0);
  });

  it("are not made of anything else, nor of exponents no manifest means", () => {
    for (const bad of ["", "abc", "1Gb", "1e1.5", "1e401", "1".repeat(65), "--1"])
      assert.equal(exactQuantity(bad), undefined, bad);
    assert.deepEqual(exactQuantity("1e400"), { num: 1n, exp10: 400 });
  });

  it("back Kubernetes' CEL quantity functions", () => {
    assert.equal(evaluateCel("quantity('128Mi').isLessThan(quantity('256Mi'))", {}), true);
    assert.equal(evaluateCel("quantity('1Gi').isGreaterThan(quantity('1G'))", {}), true);
    assert.equal(evaluateCel("quantity('1Gi').compareTo(quantity('1073741824'))", {}), 0n);
    assert.equal(evaluateCel("isQuantity('2x')", {}), false);
    assert.throws(() => evaluateCel("quantity('2x')", {}), /regular expression for a quantity/);
  });
});
