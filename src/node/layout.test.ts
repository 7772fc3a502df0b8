import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { maxLogPieceBytes } from "./api.ts";
import { type ActorRecord, NodeLayout } from "./layout.ts";
import { NodeAgent } from "./node-agent.ts";

const mode = (p: string) => statSync(p).mode & 0o777;
const actor = { atespace: "a", templateNamespace: "default", templateName: "t", actorId: "x" };

describe("node state file modes", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-layout-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("fixes a state dir an older version left world-readable when the agent starts", () => {
    const state = join(dir, "old");
    for (const d of ["workers/w1", "logs/a", "snapshots/a/x/s1", "assets/sha256", "images", "tmp"])
      mkdirSync(join(state, d), { recursive: true, mode: 0o755 });
    const asset = join(state, "assets", "sha256", "f".repeat(64));
    writeFileSync(asset, "runsc", { mode: 0o755 });
    writeFileSync(join(state, "workers.json"), "[]", { mode: 0o644 });
    writeFileSync(join(state, "workers", "w1", "actor.json"), "{}", { mode: 0o644 });
    new NodeAgent({ stateDir: state, drivers: [] });
    for (const d of [
      "",
      "workers",
      "logs",
      "snapshots",
      "assets",
      "assets/sha256",
      "images",
      "tmp",
    ])
      assert.equal(mode(join(state, d)), 0o700, d || "the state dir");
    assert.equal(mode(asset), 0o700, "cached assets: executable by root only");
    assert.equal(mode(join(state, "workers.json")), 0o600);
    assert.equal(mode(join(state, "workers", "w1", "actor.json")), 0o600);
  });

  it("writes records 0600 in 0700 directories, and what the sandbox sees as it must see it", async () => {
    const layout = new NodeLayout(join(dir, "new"));
    layout.securePrivateState();
    const workload = {
      containers: [{ name: "c", image: "i@sha256:1" }],
      volumes: [{ name: "data", durableDir: {} }],
    };
    const record: ActorRecord = {
      actor,
      sandboxClass: "gvisor",
      arch: "amd64",
      assets: {},
      runtimePaths: {},
      images: {},
      workload,
    };
    await layout.writeRecord("w1", record);
    assert.equal(mode(layout.workerDir("w1")), 0o700);
    assert.equal(mode(join(layout.workerDir("w1"), "actor.json")), 0o600);
    const identity = await layout.writeIdentity("w1", actor);
    assert.equal(mode(identity), 0o755, "mounted at /run/ate: a container user reads it");
    assert.equal(mode(join(identity, "actor-id")), 0o444);
    await layout.prepareVolumes("w1", workload);
    const volume = layout.volumeDirs("w1", workload).data as string;
    assert.equal(mode(join(volume, "..")), 0o700);
    assert.equal(mode(volume), 0o755, "the durableDir as the container sees it");
  });

  it("reads an actor's log a piece at a time, and its tail from its end", async () => {
    const layout = new NodeLayout(join(dir, "logs"));
    mkdirSync(dirname(layout.logPath(actor)), { recursive: true });
    // An actor that wrote more than any reader should hold at once.
    const line = `${"x".repeat(1023)}\n`;
    writeFileSync(layout.logPath(actor), `${line.repeat(3 * 1024)}the last line\n`);
    const size = statSync(layout.logPath(actor)).size;
    let from = 0;
    let pieces = 0;
    for (;;) {
      const piece = await layout.readLog(actor, from);
      assert.ok(piece.length <= maxLogPieceBytes, `piece ${pieces} is ${piece.length} bytes`);
      from += piece.length;
      pieces++;
      if (piece.length < maxLogPieceBytes) break;
    }
    assert.equal(from, size, "every byte, in pieces");
    assert.equal(pieces, 4);
    assert.equal(await layout.logTail(actor, 1), "the last line");
    assert.equal((await layout.readLog(actor, size)).length, 0);
    assert.equal(await layout.logTail({ ...actor, actorId: "none" }, 5), "");
  });
});
