// A node's own snapshots: listed complete, removed by URI only inside its snapshots directory,
// and what a checkpoint or restore cut short swept when the agent starts.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { silentLogger } from "../log/index.ts";
import { NodeAgent } from "./node-agent.ts";

function snapshot(root: string, path: string, manifest = true): string {
  const dir = join(root, "snapshots", path);
  mkdirSync(join(dir, "checkpoint"), { recursive: true });
  writeFileSync(join(dir, "checkpoint", "pages.img"), Buffer.alloc(1000));
  if (manifest) writeFileSync(join(dir, "manifest.json"), "{}");
  return pathToFileURL(dir).href;
}

describe("a node's own snapshots", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-local-snapshots-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("lists the complete ones and removes one by URI, idempotently", async () => {
    const state = join(dir, "list");
    const agent = new NodeAgent({ stateDir: state, drivers: [] });
    const a = snapshot(state, "t/a/s1");
    const b = snapshot(state, "t/b/s2");
    snapshot(state, "t/c/cut", false);
    const listed = await agent.listSnapshots();
    assert.equal(listed.location, pathToFileURL(join(state, "snapshots")).href);
    assert.deepEqual(listed.snapshots.map((s) => [s.uri, s.bytes]).sort(), [
      [a, 1002],
      [b, 1002],
    ]);
    assert.ok(listed.snapshots.every((s) => s.modifiedAt > Date.now() - 60_000));
    assert.equal(await agent.deleteSnapshot(`${a}/`), 1002);
    assert.equal(await agent.deleteSnapshot(a), 0, "already gone");
    assert.ok(!existsSync(join(state, "snapshots", "t", "a")), "the emptied actor dir goes");
    assert.ok(existsSync(join(state, "snapshots", "t", "b", "s2", "manifest.json")));
  });

  it("refuses anything but a snapshot in its own snapshots directory", async () => {
    const state = join(dir, "refuse");
    const agent = new NodeAgent({ stateDir: state, drivers: [] });
    const s = snapshot(state, "t/a/s1");
    const root = pathToFileURL(join(state, "snapshots")).href;
    for (const bad of [
      root,
      `${root}/t`,
      `${root}/t/a`,
      `${root}/t/a/s1/checkpoint`,
      `${root}/t/a/../../../workers/w1`,
      pathToFileURL(join(state, "workers", "a", "b")).href,
      "s3://bucket/t/a/s1",
      "file:///etc/passwd",
    ])
      await assert.rejects(agent.deleteSnapshot(bad), /INVALID_ARGUMENT|not a/, bad);
    assert.equal((await agent.listSnapshots()).snapshots[0]?.uri, s);
  });

  it("sweeps snapshots without a manifest and scratch space at start, nothing else", async () => {
    const state = join(dir, "start");
    new NodeAgent({ stateDir: state, drivers: [] });
    const kept = snapshot(state, "t/a/s1");
    snapshot(state, "t/a/cut", false);
    mkdirSync(join(state, "tmp", "snapshot-abc", "checkpoint"), { recursive: true });
    mkdirSync(join(state, "tmp", "restore-def"), { recursive: true });
    const agent = new NodeAgent({ stateDir: state, drivers: [], logger: silentLogger });
    await agent.recover();
    assert.ok(!existsSync(join(state, "snapshots", "t", "a", "cut")));
    assert.ok(!existsSync(join(state, "tmp", "snapshot-abc")));
    assert.ok(!existsSync(join(state, "tmp", "restore-def")));
    assert.deepEqual(
      (await agent.listSnapshots()).snapshots.map((s) => s.uri),
      [kept],
    );
  });
});
