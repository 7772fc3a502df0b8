// The node agent against the real thing: runsc from bookworm-backports, a docker-registry on
// loopback, s3rver for external snapshots, network namespaces made by the agent itself.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { openBlobStore } from "../../src/blob/index.ts";
import { Code, isAteError } from "../../src/errors/index.ts";
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
import { type RunningS3, startS3 } from "../support/s3rver.ts";

const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("node agent with gvisor", { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-node-"));
  const driver = new GvisorDriver({
    stateDir: join(dir, "state"),
    network: { prefix: "atet", subnetBase: 200 },
  });
  const agent = new NodeAgent({
    stateDir: join(dir, "state"),
    drivers: [driver],
    drainTimeoutMs: 1000,
    assetDirs: [dir], // the runtimes below are copies of runsc in it
  });
  let registry: RunningRegistry;
  let s3: RunningS3;
  let image = "";
  const runtimeA = join(dir, "runsc-a");
  const runtimeB = join(dir, "runsc-b");
  const assetsOf = (path: string): SandboxAssets => ({
    sandboxClass: "gvisor",
    assets: { amd64: { runsc: { url: `file://${path}`, sha256: sha(path) } } },
  });
  const actor = (actorId: string): ActorIdentity => ({
    atespace: "test",
    templateNamespace: "default",
    templateName: "counter",
    actorId,
  });
  const workload = (): Workload => ({
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
  });
  const workers: Record<string, string> = {};
  const hit = (worker: string, path = "/count") =>
    getJson<{ memory: number; file: number; actor: string }>(
      `http://${workers[worker]}:8080${path}`,
    );

  before(async () => {
    assert.equal(process.getuid?.(), 0, "these tests need root (network namespaces, runsc)");
    copyFileSync("/usr/bin/runsc", runtimeA);
    copyFileSync(runtimeA, runtimeB);
    appendFileSync(runtimeB, "ate-runtime-b"); // a different build, as far as hashes go
    [registry, s3] = await Promise.all([startRegistry(), startS3(["snapshots"])]);
    image = await pushCounterImage(registry.host);
    for (const w of ["wa", "wb", "wc"]) workers[w] = (await agent.createWorker(w)).address;
  });

  afterEach(async () => {
    // What a test left running (stopping an empty worker resets its network: ≈0.3 s each).
    for (const w of Object.keys(workers))
      if (await agent.record(w).catch(() => undefined)) await agent.stop(w).catch(() => {});
  });

  after(async () => {
    for (const w of Object.keys(workers)) await agent.deleteWorker(w).catch(() => {});
    await Promise.all([registry?.stop(), s3?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs a counter in worker A, checkpoints it to S3 and restores it in worker B with memory and file intact", async () => {
    await agent.run({
      worker: "wa",
      actor: actor("c1"),
      workload: workload(),
      sandboxAssets: assetsOf(runtimeA),
    });
    assert.deepEqual(await hit("wa"), { memory: 1, file: 1, actor: "c1" });
    assert.deepEqual(await hit("wa"), { memory: 2, file: 2, actor: "c1" });
    const snap = await agent.checkpoint({
      worker: "wa",
      actor: actor("c1"),
      scope: "Full",
      destination: { kind: "external", uriPrefix: "s3://snapshots/test/c1/1" },
    });
    assert.equal(snap.uri, "s3://snapshots/test/c1/1");
    assert.ok(snap.files.some((f) => f.name.startsWith("checkpoint/")));
    assert.ok(snap.files.some((f) => f.name === "data/data.tar.gz"));
    assert.equal(await agent.record("wa"), undefined, "worker A is empty again");
    const manifest = JSON.parse(
      (await (await openBlobStore(snap.uri).get("manifest.json")).toArray()).join(""),
    );
    assert.equal(manifest.sandboxClass, "gvisor");
    assert.deepEqual(
      manifest.assets,
      assetsOf(runtimeA).assets.amd64,
      "the manifest pins the runtime",
    );
    assert.deepEqual(manifest.images, { counter: image });
    await agent.restore({ worker: "wb", actor: actor("c1"), source: snap.uri, scope: "Full" });
    assert.deepEqual(await hit("wb"), { memory: 3, file: 3, actor: "c1" });
    let output = "";
    for await (const piece of agent.logs(actor("c1"))) output += Buffer.from(piece).toString();
    assert.match(output, /counter listening on 8080/);
    await agent.stop("wb");
  });

  it("restores only the durableDir with Data scope: memory restarts, the file counter continues", async () => {
    await agent.run({
      worker: "wa",
      actor: actor("c2"),
      workload: workload(),
      sandboxAssets: assetsOf(runtimeA),
    });
    await hit("wa");
    await hit("wa");
    const snap = await agent.checkpoint({
      worker: "wa",
      actor: actor("c2"),
      scope: "Data",
      destination: { kind: "local" },
    });
    assert.ok(snap.local);
    assert.deepEqual(
      snap.files.map((f) => f.name),
      ["data/data.tar.gz"],
    );
    await agent.restore({ worker: "wb", actor: actor("c2"), source: snap.uri, scope: "Data" });
    assert.deepEqual(await hit("wb"), { memory: 1, file: 3, actor: "c2" });
    await assert.rejects(
      agent.restore({ worker: "wc", actor: actor("c2"), source: snap.uri, scope: "Full" }),
      /scope Data/,
    );
    await agent.stop("wb");
  });

  it("pins the runtime: a restore uses the runsc the actor booted with, a fresh run the one it names", async () => {
    await agent.run({
      worker: "wa",
      actor: actor("c3"),
      workload: workload(),
      sandboxAssets: assetsOf(runtimeA),
    });
    await hit("wa");
    const snap = await agent.checkpoint({
      worker: "wa",
      actor: actor("c3"),
      scope: "Full",
      destination: { kind: "local" },
    });
    // The pool now names runtime B; the snapshot still says A.
    await agent.run({
      worker: "wc",
      actor: actor("c4"),
      workload: workload(),
      sandboxAssets: assetsOf(runtimeB),
    });
    await agent.restore({ worker: "wb", actor: actor("c3"), source: snap.uri, scope: "Full" });
    assert.deepEqual(await hit("wb"), { memory: 2, file: 2, actor: "c3" });
    assert.equal((await agent.record("wb"))?.runtimePaths.runsc, agent.assets.path(sha(runtimeA)));
    assert.equal((await agent.record("wc"))?.runtimePaths.runsc, agent.assets.path(sha(runtimeB)));
    assert.equal(
      sandboxExe(dir, "wb"),
      agent.assets.path(sha(runtimeA)),
      "the restored sandbox process is A's binary",
    );
    assert.equal(sandboxExe(dir, "wc"), agent.assets.path(sha(runtimeB)));
    await agent.stop("wb");
    await agent.stop("wc");
  });

  it("closes an idle keep-alive connection before checkpointing, so the restored actor answers", async () => {
    await agent.run({
      worker: "wa",
      actor: actor("c5"),
      workload: workload(),
      sandboxAssets: assetsOf(runtimeA),
    });
    const { connect } = await import("node:net");
    const idle = connect({ host: workers.wa as string, port: 8080 });
    await new Promise((r) => idle.once("connect", r));
    idle.on("error", () => {});
    const snap = await agent.checkpoint({
      worker: "wa",
      actor: actor("c5"),
      scope: "Full",
      destination: { kind: "local" },
    });
    idle.destroy();
    await agent.restore({ worker: "wb", actor: actor("c5"), source: snap.uri, scope: "Full" });
    assert.deepEqual(await hit("wb"), { memory: 1, file: 1, actor: "c5" });
    await agent.stop("wb");
  });

  describe("bad input", () => {
    it("a wrong sha256 or a refused url fails the run and caches nothing", async () => {
      const wrong: SandboxAssets = {
        sandboxClass: "gvisor",
        assets: { amd64: { runsc: { url: `file://${runtimeA}`, sha256: "e".repeat(64) } } },
      };
      await assert.rejects(
        agent.run({
          worker: "wa",
          actor: actor("bad1"),
          workload: workload(),
          sandboxAssets: wrong,
        }),
        /does not have sha256 e{64}/,
      );
      assert.equal(await agent.assets.has("e".repeat(64)), false);
      const unreachable: SandboxAssets = {
        sandboxClass: "gvisor",
        assets: { amd64: { runsc: { url: "http://127.0.0.1:1/runsc", sha256: "d".repeat(64) } } },
      };
      await assert.rejects(
        agent.run({
          worker: "wa",
          actor: actor("bad1"),
          workload: workload(),
          sandboxAssets: unreachable,
        }),
        /is a loopback address/,
      );
      assert.equal(await agent.record("wa"), undefined);
    });

    it("an unknown sandbox class, a missing arch or a missing asset is refused clearly", async () => {
      const vm: SandboxAssets = { sandboxClass: "microvm", assets: { amd64: {} } };
      await assert.rejects(
        agent.run({ worker: "wa", actor: actor("bad2"), workload: workload(), sandboxAssets: vm }),
        /sandbox class "microvm" is not supported on this node/,
      );
      const arm = {
        sandboxClass: "gvisor",
        assets: { arm64: assetsOf(runtimeA).assets.amd64 },
      } as SandboxAssets;
      await assert.rejects(
        agent.run({ worker: "wa", actor: actor("bad2"), workload: workload(), sandboxAssets: arm }),
        /has no assets for architecture amd64/,
      );
    });

    it("an image whose digest the registry does not have fails the run", async () => {
      const w = workload();
      (w.containers[0] as { image: string }).image = image.replace(
        /@sha256:.*/,
        `@sha256:${"1".repeat(64)}`,
      );
      await assert.rejects(
        agent.run({
          worker: "wa",
          actor: actor("bad3"),
          workload: w,
          sandboxAssets: assetsOf(runtimeA),
        }),
        (e) => isAteError(e, Code.NotFound),
      );
      assert.equal(await agent.record("wa"), undefined);
    });

    it("a tampered snapshot file or a missing manifest is refused before the worker is touched", async () => {
      await agent.run({
        worker: "wa",
        actor: actor("c6"),
        workload: workload(),
        sandboxAssets: assetsOf(runtimeA),
      });
      const snap = await agent.checkpoint({
        worker: "wa",
        actor: actor("c6"),
        scope: "Full",
        destination: { kind: "local" },
      });
      const path = fileURLToPath(snap.uri);
      writeFileSync(join(path, "data", "data.tar.gz"), "tampered");
      // This node's own snapshot is checked in place by size (src/node/snapshot-files.ts);
      // one from anywhere else by sha256 (src/node/snapshot-files.test.ts).
      await assert.rejects(
        agent.restore({ worker: "wb", actor: actor("c6"), source: snap.uri, scope: "Full" }),
        (e) =>
          isAteError(e, Code.DataLoss) &&
          /data\/data.tar.gz is 8 bytes, the manifest says \d+ bytes; refusing to restore it/.test(
            (e as Error).message,
          ),
      );
      assert.equal(await agent.record("wb"), undefined);
      rmSync(join(path, "manifest.json"));
      await assert.rejects(
        agent.restore({ worker: "wb", actor: actor("c6"), source: snap.uri, scope: "Full" }),
        /has no manifest.json: it is incomplete or does not exist/,
      );
      assert.ok(existsSync(join(path, "data", "data.tar.gz")), "the snapshot is left as it was");
    });

    it("a snapshot whose runtime cannot be had fails clearly and is left untouched; another node restores it once it can", async () => {
      await agent.run({
        worker: "wa",
        actor: actor("c7"),
        workload: workload(),
        sandboxAssets: assetsOf(runtimeB),
      });
      const snap = await agent.checkpoint({
        worker: "wa",
        actor: actor("c7"),
        scope: "Full",
        destination: { kind: "external", uriPrefix: "s3://snapshots/test/c7/1" },
      });
      // A node that never cached B, and B's file is gone.
      const otherDriver = new GvisorDriver({
        stateDir: join(dir, "other"),
        network: { prefix: "atetb", subnetBase: 210 },
      });
      const other = new NodeAgent({
        stateDir: join(dir, "other"),
        drivers: [otherDriver],
        assetDirs: [dir],
      });
      const store = openBlobStore(snap.uri);
      const before = (await store.list("")).map((b) => b.key);
      const moved = `${runtimeB}.moved`;
      copyFileSync(runtimeB, moved);
      rmSync(runtimeB);
      try {
        await assert.rejects(
          other.restore({ worker: "wb", actor: actor("c7"), source: snap.uri, scope: "Full" }),
          /worker wb does not exist/,
        );
        await other.createWorker("wd").catch(() => {});
        await assert.rejects(
          other.restore({ worker: "wd", actor: actor("c7"), source: snap.uri, scope: "Full" }),
          (e) =>
            isAteError(e, Code.FailedPrecondition) &&
            /needs the gvisor runtime it was taken with .* which is unavailable on this node.*the snapshot is untouched/.test(
              (e as Error).message,
            ),
        );
        assert.deepEqual(
          (await store.list("")).map((b) => b.key),
          before,
        );
        // Once the runtime can be had again, the other node restores the actor from S3.
        copyFileSync(moved, runtimeB);
        const restored = await other.restore({
          worker: "wd",
          actor: actor("c7"),
          source: snap.uri,
          scope: "Full",
        });
        assert.deepEqual(await getJson(`http://${restored.address}:8080/peek`), {
          memory: 0,
          file: 0,
          actor: "c7",
        });
        assert.equal(
          (await other.record("wd"))?.runtimePaths.runsc,
          other.assets.path(sha(runtimeB)),
        );
      } finally {
        if (!existsSync(runtimeB)) copyFileSync(moved, runtimeB);
        await other.deleteWorker("wd").catch(() => {});
      }
    });
  });
});

/** The executable of the sandbox process runsc started for a worker. */
function sandboxExe(dir: string, worker: string): string {
  const root = `--root=${join(dir, "state", "runsc")}`;
  // Each start has a sandbox id of its own (`<worker>-s<6 hex>`); a former one may be deleting.
  const state = execFileSync("runsc", [root, "list", "-quiet"], { encoding: "utf8" })
    .split("\n")
    .filter((id) => id.startsWith(`${worker}-s`))
    .map(
      (id) =>
        JSON.parse(execFileSync("runsc", [root, "state", id], { encoding: "utf8" })) as {
          pid: number;
          status: string;
        },
    )
    .find((s) => s.status === "running") as { pid: number };
  return readlinkSync(`/proc/${state.pid}/exe`).replace(/ \(deleted\)$/, "");
}
