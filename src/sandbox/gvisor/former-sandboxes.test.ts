import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { FormerSandboxes } from "./former-sandboxes.ts";
import { Runsc } from "./runsc.ts";

describe("former sandboxes", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-former-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // A runsc that only writes down what it was asked to do.
  const calls = join(dir, "calls");
  const binary = join(dir, "runsc");
  writeFileSync(binary, `#!/bin/sh\necho "$*" >> ${calls}\n`);
  chmodSync(binary, 0o755);
  const records = join(dir, "former");
  const open = (b: string) => new Runsc(b, join(dir, "root"));

  it("deletes, after a restart, the former sandbox a killed agent was deleting", async () => {
    const killed = new FormerSandboxes(() => undefined, records, open);
    // The agent records the sandbox, removes its pid file, and dies before the delete ends.
    await killed.record("w1", "w1-sabc123", open(binary));
    await killed.record("w2", "w2-sdef456", open(binary));
    const restarted = new FormerSandboxes(() => undefined, records, open);
    await restarted.recover("w1");
    assert.match(readFileSync(calls, "utf8"), /delete --force w1-sabc123/);
    assert.doesNotMatch(readFileSync(calls, "utf8"), /w2-sdef456/, "only the worker's own");
    assert.ok(!existsSync(join(records, "w1-sabc123")), "its record goes once it is deleted");
    assert.ok(existsSync(join(records, "w2-sdef456")));
  });

  it("leaves alone what this process is deleting itself, and forgets it once deleted", async () => {
    rmSync(calls, { force: true });
    const former = new FormerSandboxes(() => undefined, records, open);
    await former.record("w3", "w3-s0a0b0c", open(binary));
    await former.recover("w3");
    assert.ok(!existsSync(calls), "no second delete of a sandbox being deleted");
    await former.remove(open(binary), "w3-s0a0b0c", 0, undefined);
    assert.match(readFileSync(calls, "utf8"), /delete --force w3-s0a0b0c/);
    assert.ok(!existsSync(join(records, "w3-s0a0b0c")));
  });
});
