// Clean-up commands prepared with a checkpoint and run, through the launcher, when told to.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startLauncher } from "../launcher/index.ts";
import { gated } from "./gated.ts";

describe("gated", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-gated-"));
  before(async () => {
    await startLauncher();
  });
  // The launcher exits with this process (its stdin closes).
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("runs nothing until go, then once: its exit code", async () => {
    const mark = join(dir, "ran");
    const g = gated(["/bin/sh", "-c", `echo x >> ${mark}; exit 3`]);
    assert.equal(existsSync(mark), false);
    assert.equal(await g.go(), 3);
    assert.equal(await g.go(), 3);
    assert.equal(existsSync(mark), true);
    g.cancel(); // nothing after a go
  });

  it("runs nothing once cancelled", async () => {
    const mark = join(dir, "cancelled");
    const g = gated(["/bin/sh", "-c", `touch ${mark}`]);
    g.cancel();
    assert.equal(await g.go(), 125);
    assert.equal(existsSync(mark), false);
  });

  it("gives 1 for a command that cannot start", async () => {
    assert.equal(await gated([join(dir, "no-such-command")]).go(), 1);
  });
});
