import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { newSandboxId, sandboxOf } from "./former-sandboxes.ts";
import { Runsc } from "./runsc.ts";

describe("sandbox ids", () => {
  it("gives each start of a worker a fresh id that is known as the worker's", () => {
    const a = newSandboxId("pool-ab12cd");
    assert.match(a, /^pool-ab12cd-s[0-9a-f]{6}$/);
    assert.notEqual(newSandboxId("pool-ab12cd", a), a);
    assert.ok(sandboxOf(a, "pool-ab12cd"));
    assert.ok(sandboxOf("pool-ab12cd", "pool-ab12cd"), "an older agent's id: the worker's name");
    assert.ok(!sandboxOf(a, "pool-ab"), "never another worker's, even one named as a prefix");
    assert.ok(!sandboxOf("pool-ab12cd-sxyz", "pool-ab12cd"));
    assert.ok(!sandboxOf("raw-1", "pool-ab12cd"));
  });
});

describe("runsc's state file", () => {
  it("is read for the status without running runsc; anything unexpected reads as unknown", async () => {
    const root = mkdtempSync(join(tmpdir(), "ate-runsc-state-"));
    try {
      const runsc = new Runsc("/nonexistent/runsc", root);
      const file = join(root, "w1-s0a0b0c_sandbox:w1-s0a0b0c.state");
      assert.equal(await runsc.stateFile("w1-s0a0b0c"), undefined, "no file yet");
      writeFileSync(file, '{"id":"w1-s0a0b0c","status":"creat');
      assert.equal(await runsc.stateFile("w1-s0a0b0c"), undefined, "half written");
      writeFileSync(file, '{"id":"w1-s0a0b0c","status":3}');
      assert.equal(await runsc.stateFile("w1-s0a0b0c"), undefined, "not a status we know");
      writeFileSync(file, '{"id":"w1-s0a0b0c","status":"running"}');
      assert.equal(await runsc.stateFile("w1-s0a0b0c"), "running");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
