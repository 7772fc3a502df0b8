import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { newSandboxId, sandboxOf } from "./former-sandboxes.ts";
import {
  checkContainerSet,
  containerSetFile,
  subcontainerIds,
  subcontainerOf,
  subcontainersIn,
  writeContainerSet,
} from "./subcontainers.ts";

describe("further containers' ids", () => {
  it("are the worker's, none a prefix of another or of the root (runsc: ambiguous)", () => {
    const root = newSandboxId("pool-ab12cd");
    const ids = subcontainerIds(root, 10);
    assert.equal(ids.length, 9);
    const all = [root, ...ids];
    for (const a of all)
      for (const b of all) if (a !== b) assert.ok(!b.startsWith(a), `${a} is a prefix of ${b}`);
    for (const id of ids) {
      assert.ok(subcontainerOf(id, "pool-ab12cd"), id);
      assert.ok(!sandboxOf(id, "pool-ab12cd"), `${id} is no sandbox of its own`);
      assert.ok(!subcontainerOf(id, "pool-ab"), "never another worker's");
    }
    assert.deepEqual(subcontainerIds(root, 1), [], "one container: the root alone");
  });

  it("are found from runsc's state files, by their sandbox", () => {
    const dir = mkdtempSync(join(tmpdir(), "ate-subs-"));
    try {
      for (const f of [
        "w1-s0a0b0c_sandbox:w1-s0a0b0c.state",
        "w1-c0a0b0c1_sandbox:w1-s0a0b0c.state",
        "w1-c0a0b0c2_sandbox:w1-s0a0b0c.state",
        "w1-c0a0b0c2_sandbox:w1-s0a0b0c.lock",
        "w2-c111111_sandbox:w2-s111111.state",
      ])
        writeFileSync(join(dir, f), "{}");
      assert.deepEqual(subcontainersIn(dir, "w1-s0a0b0c").sort(), ["w1-c0a0b0c1", "w1-c0a0b0c2"]);
      assert.deepEqual(subcontainersIn(dir, "w3-s000000"), []);
      assert.deepEqual(subcontainersIn(join(dir, "missing"), "w1-s0a0b0c"), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a checkpoint's container set", () => {
  it("restores only into the same containers, in the same order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ate-set-"));
    try {
      // None recorded: a single-container checkpoint.
      await checkContainerSet(dir, ["main"]);
      await assert.rejects(
        checkContainerSet(dir, ["main", "side"]),
        /containers: the snapshot holds \[one container\], the restore asks for \[main, side\]/,
      );
      await writeContainerSet(dir, ["main", "side"]);
      await checkContainerSet(dir, ["main", "side"]);
      for (const other of [["main"], ["side", "main"], ["main", "other"]])
        await assert.rejects(
          checkContainerSet(dir, other),
          /holds \[main, side\].*nothing was restored/,
        );
      writeFileSync(join(dir, containerSetFile), '{"containers":[1]}');
      await assert.rejects(checkContainerSet(dir, ["main"]), /is not a container list/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
