import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, isAteError } from "../errors/index.ts";
import { silentLogger } from "../log/index.ts";
import type { SandboxDriver, SandboxExit, WorkerRef } from "../sandbox/index.ts";
import type { WorkerInfo } from "./api.ts";
import { type ActorRecord, NodeLayout } from "./layout.ts";
import { NodeAgent } from "./node-agent.ts";
import { NodeWorkers } from "./node-workers.ts";
import { WorkerExits } from "./worker-exits.ts";

/** A driver that runs nothing and reports the exits a test makes up. */
class FakeDriver implements SandboxDriver {
  readonly sandboxClass = "gvisor" as const;
  readonly requiredAssets = ["runsc"] as const;
  listener: ((worker: WorkerRef, exit: SandboxExit) => void) | undefined;
  prepared: WorkerRef[] = [];
  async prepareWorker(worker: WorkerRef) {
    this.prepared.push(structuredClone(worker));
    return { address: `169.254.9.${worker.index * 4 + 2}` };
  }
  async releaseWorker() {}
  async run() {}
  async checkpoint() {}
  async restore() {}
  async adopt() {
    return false;
  }
  async stop() {}
  onExit(listener: (worker: WorkerRef, exit: SandboxExit) => void) {
    this.listener = listener;
  }
}

const actor = { atespace: "a", templateNamespace: "default", templateName: "t", actorId: "x1" };
const record = (): ActorRecord => ({
  actor,
  sandboxClass: "gvisor",
  arch: "amd64",
  assets: {},
  runtimePaths: {},
  images: {},
  workload: { containers: [] },
});
const oom: SandboxExit = {
  reason: "OOMKilled",
  message: "the sandbox went past its memory limit of 128Mi and was killed",
  exitCode: 137,
  at: "2026-01-01T00:00:00.000Z",
};

describe("sandbox exits on the node", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-exits-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("frees the worker, keeps the exit with its actor and tells onWorkerExit; settings and exit survive a restart", async () => {
    const state = join(dir, "agent");
    const driver = new FakeDriver();
    const heard: WorkerInfo[] = [];
    const agent = new NodeAgent({
      stateDir: state,
      drivers: [driver],
      onWorkerExit: (w) => heard.push(w),
    });
    const settings = { limits: { memoryBytes: 128 << 20, cpuMillis: 500 } };
    const created = await agent.createWorker("w1", settings);
    assert.deepEqual(created, { name: "w1", address: "169.254.9.2", settings });
    assert.deepEqual(driver.prepared[0]?.settings, settings, "the driver gets the settings");
    await new NodeLayout(state).writeRecord("w1", record());
    assert.equal((await agent.listWorkers())[0]?.actor?.actorId, "x1");

    driver.listener?.({ name: "w1", index: 0, settings }, oom);
    for (let i = 0; i < 200 && !heard.length; i++) await sleep(5);
    const expected = { name: "w1", address: "169.254.9.2", settings, lastExit: { ...oom, actor } };
    assert.deepEqual(heard, [expected]);
    assert.deepEqual(await agent.listWorkers(), [expected], "free, with its last exit");
    assert.equal(await agent.record("w1"), undefined);

    // A second report of the same sandbox (nothing to free any more) is not heard again.
    driver.listener?.({ name: "w1", index: 0, settings }, oom);
    await sleep(50);
    assert.equal(heard.length, 1);

    const saved = JSON.parse(readFileSync(join(state, "workers.json"), "utf8"));
    assert.deepEqual(saved[0].settings, settings);
    const again = new NodeAgent({ stateDir: state, drivers: [new FakeDriver()] });
    assert.deepEqual(await again.recover(), [expected]);

    // The next run or restore claims the worker: its last exit is history.
    const workers = new NodeWorkers(
      new Map([["gvisor", new FakeDriver()]]),
      new NodeLayout(state),
      silentLogger,
    );
    await workers.recover();
    await workers.claim("w1");
    assert.equal((await workers.list())[0]?.lastExit, undefined);
    assert.equal(
      JSON.parse(readFileSync(join(state, "workers.json"), "utf8"))[0].lastExit,
      undefined,
    );
  });

  it("fails a start under way with the reason instead of reporting the exit", async () => {
    const state = join(dir, "start");
    const layout = new NodeLayout(state);
    const workers = new NodeWorkers(new Map([["gvisor", new FakeDriver()]]), layout, silentLogger);
    await workers.create("w2");
    await layout.writeRecord("w2", record());
    const heard: WorkerInfo[] = [];
    const exits = new WorkerExits(workers, layout, silentLogger, (w) => heard.push(w));
    const outer = new AbortController();
    const start = exits.start("w2", outer.signal);
    exits.handle({ name: "w2", index: 0 }, { ...oom, reason: "Exited", message: "exited with 1" });
    assert.ok(start.signal.aborted);
    assert.ok(isAteError(start.signal.reason, Code.FailedPrecondition));
    assert.match(String(start.signal.reason), /the sandbox stopped while starting: exited with 1/);
    await assert.rejects(
      start.ready("127.0.0.1", {
        containers: [{ name: "c", image: "i", readyz: { path: "/", port: 1 } }],
      }),
      /stopped while starting/,
    );
    start.done();
    await sleep(20);
    assert.deepEqual(heard, [], "the failing start reports it");
    assert.ok(await layout.readRecord("w2"), "the start's own clean-up wipes the record");
  });
});
