import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { quantity } from "../v1alpha1/common.ts";
import { formatCpu, formatMemory, parseCpu, parseMemory, shown } from "./quantity.ts";

const field = "spec.template.resources.limits.memory";
const Mi = 1024 ** 2;

describe("quantities", () => {
  it("parse memory in bytes: binary and decimal suffixes, exponents, plain numbers", () => {
    const cases: [unknown, number][] = [
      ["256Mi", 256 * Mi],
      ["1Gi", 1024 * Mi],
      ["1.5Gi", 1536 * Mi],
      ["1G", 1e9],
      ["128M", 128e6],
      ["1k", 1000],
      ["64Ki", 65536],
      ["1Ti", 1024 ** 4],
      ["7Pi", 7 * 1024 ** 5],
      ["134217728", 134217728],
      [134217728, 134217728],
      ["1e3", 1000],
      ["1E3", 1000],
      ["12e+6", 12e6],
      ["+5", 5],
      [".5Ki", 512],
      ["1.", 1],
      ["0", 0],
      ["-0", 0],
      // Fractions of a byte round up, as Kubernetes' Value() does.
      ["500m", 1],
      ["0.1", 1],
      ["1e-3", 1],
      ["1.0001", 2],
    ];
    for (const [input, bytes] of cases) assert.equal(parseMemory(field, input), bytes, `${input}`);
  });

  it("parse CPU in millicores", () => {
    const cases: [unknown, number][] = [
      ["500m", 500],
      ["2", 2000],
      [2, 2000],
      ["0.5", 500],
      [0.5, 500],
      ["1.25", 1250],
      ["100m", 100],
      ["1e-1", 100],
      ["250000u", 250],
      ["1n", 1], // rounded up
      ["0.0001", 1],
      ["10", 10000],
      ["1k", 1_000_000],
    ];
    for (const [input, millis] of cases)
      assert.equal(parseCpu("spec.template.resources.limits.cpu", input), millis, `${input}`);
  });

  it("refuse what is not a usable quantity, naming the field and the value", () => {
    const cases: [unknown, RegExp][] = [
      ["abc", /must be a quantity such as 256Mi or 1G$/],
      ["1 Gi", /must be a quantity/],
      ["1gi", /must be a quantity/],
      ["1Gib", /must be a quantity/],
      ["", /must be a quantity/],
      ["1e", /must be a quantity/],
      [true, /must be a quantity/],
      [{}, /must be a quantity/],
      [Number.NaN, /must be a quantity/],
      ["1".repeat(65), /must be a quantity/],
      ["-1Gi", /must not be negative$/],
      [-5, /must not be negative$/],
      ["1e2.5", /the exponent must be a whole number$/],
      ["1E", /is too large/],
      ["8Ei", /is too large$/],
      ["1e999999999", /is too large/],
    ];
    for (const [input, pattern] of cases) {
      assert.throws(
        () => parseMemory(field, input),
        (err: Error) => {
          assert.ok(
            err.message.startsWith(`${field}: Invalid value: ${JSON.stringify(input)}: `),
            err.message,
          );
          assert.match(err.message, pattern);
          return true;
        },
        String(input),
      );
    }
    assert.throws(() => parseCpu("spec.x.cpu", "half"), /^.*spec\.x\.cpu: .*500m, 0\.5 or 2$/);
    assert.equal(parseMemory(field, "1e-999999999"), 1, "a tiny positive value is one byte");
  });

  it("quote a long value cut short: the message goes into a status of at most 32 KiB", () => {
    // The schema's pattern lets any number of digits through.
    const digits = "1".repeat(200_000);
    assert.throws(
      () => parseMemory(field, digits),
      (err: Error) =>
        err.message ===
        `${field}: Invalid value: "${"1".repeat(63)}… (200002 characters): must be a quantity such as 256Mi or 1G`,
    );
    assert.equal(shown("256Mi"), '"256Mi"');
    assert.equal(shown(1e30), "1e+30");
    assert.equal(shown(undefined), "undefined");
  });

  it("accept every form the WorkerPool schema lets through (except fractional exponents)", () => {
    const pattern = new RegExp((quantity as { pattern?: string }).pattern ?? "");
    assert.ok(pattern.source.length > 10, "the schema's pattern is there");
    for (const text of ["1", "1.", ".5", "+1Ki", "-0", "5n", "3u", "7m", "2k", "1T", "1e+3"]) {
      assert.match(text, pattern);
      assert.doesNotThrow(() => parseCpu("cpu", text), text);
    }
  });

  it("format back the shortest exact form", () => {
    assert.equal(formatMemory(256 * Mi), "256Mi");
    assert.equal(formatMemory(1536 * Mi), "1536Mi");
    assert.equal(formatMemory(1024 * Mi), "1Gi");
    assert.equal(formatMemory(1e9), "1G");
    assert.equal(formatMemory(128e6), "128M");
    assert.equal(formatMemory(1000), "1k");
    assert.equal(formatMemory(1024), "1Ki");
    assert.equal(formatMemory(1023), "1023");
    assert.equal(formatMemory(0), "0");
    assert.equal(formatCpu(500), "500m");
    assert.equal(formatCpu(2000), "2");
    assert.equal(formatCpu(1250), "1250m");
    for (const text of ["256Mi", "1G", "1536Mi", "3Ki", "12345"])
      assert.equal(formatMemory(parseMemory(field, text)), text);
  });
});
