// A worker freed by a checkpoint takes the next sandbox at once: each sandbox has an id of its
// own, so the former one's `runsc delete` (1–2 s) goes on in the background, and none is left
// once the worker is released.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type ActorIdentity,
  NodeAgent,
  type SandboxAssets,
  type Workload,
} from "../../src/node/index.ts";
import { GvisorDriver } from "../../src/sandbox/index.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { getJson } from "../support/http.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

describe("a worker freed by a checkpoint", { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-reuse-"));
  const state = join(dir, "state");
  const driver = new GvisorDriver({
    stateDir: state,
    network: { prefix: "ater", subnetBase: 196 },
  });
  const runsc = join(dir, "runsc");
  copyFileSync("/usr/bin/runsc", runsc);
  const agent = new NodeAgent({
    stateDir: state,
    drivers: [driver],
    drainTimeoutMs: 1000,
    assetDirs: [dir],
  });
  const sandboxAssets: SandboxAssets = {
    sandboxClass: "gvisor",
    assets: {
      amd64: {
        runsc: {
          url: `file://${runsc}`,
          sha256: createHash("sha256").update(readFileSync(runsc)).digest("hex"),
        },
      },
    },
  };
  const actor: ActorIdentity = {
    atespace: "test",
    templateNamespace: "default",
    templateName: "counter",
    actorId: "r1",
  };
  let registry: RunningRegistry;
  let workload: Workload;
  let address = "";
  const sandboxes = () =>
    execFileSync("runsc", [`--root=${join(state, "runsc")}`, "list", "-quiet"], {
      encoding: "utf8",
    })
      .split("\n")
      .filter(Boolean);
  const pidFile = () =>
    readFileSync(join(state, "pids", "w1"), "utf8")
      .trim()
      .split(" ");

  before(async () => {
    registry = await startRegistry();
    const image = await pushCounterImage(registry.host);
    workload = {
      containers: [
        {
          name: "counter",
          image,
          env: [{ name: "PORT", value: "8080" }],
          readyz: { path: "/readyz", port: 8080, timeoutSeconds: 20 },
          volumeMounts: [{ name: "data", mountPath: "/data" }],
        },
      ],
      volumes: [{ name: "data", durableDir: {} }],
    };
    address = (await agent.createWorker("w1")).address;
  });

  after(async () => {
    await agent.deleteWorker("w1").catch(() => {});
    await driver.close();
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("restores into it at once under a new sandbox id, and leaves no sandbox once released", async () => {
    await agent.run({ worker: "w1", actor, workload, sandboxAssets });
    const [, first] = pidFile();
    assert.match(first ?? "", /^w1-s[0-9a-f]{6}$/, "the pid file names the sandbox");
    const hit = () => getJson<{ memory: number; file: number }>(`http://${address}:8080/count`);
    assert.equal((await hit()).memory, 1);
    for (let round = 2; round <= 3; round++) {
      const snap = await agent.checkpoint({
        worker: "w1",
        actor,
        scope: "Full",
        destination: { kind: "local" },
      });
      await agent.restore({ worker: "w1", actor, source: snap.uri, scope: "Full" });
      const [, id] = pidFile();
      assert.notEqual(id, first, "a fresh sandbox id");
      assert.ok(sandboxes().includes(id as string));
      assert.equal((await hit()).memory, round, "memory kept across the swap");
    }
    await agent.deleteWorker("w1");
    assert.deepEqual(sandboxes(), [], "the former sandboxes' deletes finished with the worker");
  });
});
