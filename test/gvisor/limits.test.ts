// Worker limits against the real thing: runsc sandboxes in cgroups ate makes, a hog actor that
// allocates past its memory limit or spins, a bare node agent reporting sandbox exits.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type ActorIdentity,
  NodeAgent,
  type SandboxAssets,
  type WorkerInfo,
  type Workload,
} from "../../src/node/index.ts";
import { GvisorDriver, type WorkerSettings } from "../../src/sandbox/index.ts";
import { get, getJson } from "../support/http.ts";
import { pushNodeImage } from "../support/node-image.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

const Mi = 1024 * 1024;
const network = { prefix: "atlim", subnetBase: 140, subnets: 1 };

describe("worker limits with gvisor", { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-limits-"));
  const state = join(dir, "state");
  const driver = new GvisorDriver({ stateDir: state, network });
  const exits: WorkerInfo[] = [];
  /** Exits reported to the agent of the restart test. */
  const heard: WorkerInfo[] = [];
  const agent = new NodeAgent({
    stateDir: state,
    drivers: [driver],
    drainTimeoutMs: 1000,
    assetDirs: [dir],
    onWorkerExit: (w) => exits.push(w),
  });
  /** The agent in charge: `agent`, until a test restarts it. */
  let current = agent;
  const runtime = join(dir, "runsc");
  let sandboxAssets: SandboxAssets;
  let registry: RunningRegistry;
  let image = "";
  const settings: Record<string, WorkerSettings> = {
    mem: { limits: { memoryBytes: 128 * Mi } },
    mem2: { limits: { memoryBytes: 128 * Mi } },
    free: {},
    cpu1: { limits: { cpuMillis: 500 } },
    cpu2: { limits: { cpuMillis: 500 } },
  };
  const workers: Record<string, string> = {};
  const actor = (actorId: string): ActorIdentity => ({
    atespace: "test",
    templateNamespace: "default",
    templateName: "hog",
    actorId,
  });
  const workload = (): Workload => ({
    containers: [
      {
        name: "hog",
        image,
        env: [{ name: "PORT", value: "8080" }],
        readyz: { path: "/readyz", port: 8080, timeoutSeconds: 20 },
      },
    ],
  });
  const run = (worker: string, id: string) =>
    current.run({ worker, actor: actor(id), workload: workload(), sandboxAssets });
  const url = (worker: string, path: string) => `http://${workers[worker]}:8080${path}`;
  /** The next exit reported for a worker (polled: exits arrive on their own). */
  const nextExit = async (worker: string, seen: number): Promise<WorkerInfo> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const e = exits.slice(seen).find((x) => x.name === worker);
      if (e) return e;
      assert.ok(Date.now() < deadline, `no exit reported for ${worker} within 60 s`);
      await sleep(50);
    }
  };
  const cgroupDirs = () => {
    const { layout } = driver.cgroups;
    const roots = layout?.version === 2 ? [layout.root] : (layout?.hierarchies ?? []);
    return roots.map((r) => join(r, "ate", network.prefix)).filter((d) => existsSync(d));
  };

  before(async () => {
    assert.equal(process.getuid?.(), 0, "these tests need root (cgroups, namespaces, runsc)");
    assert.ok(driver.cgroups.layout, "these tests need cgroups");
    assert.deepEqual(cgroupDirs(), [], `leftover cgroups of ${network.prefix}`);
    copyFileSync("/usr/bin/runsc", runtime);
    const sha = createHash("sha256").update(readFileSync(runtime)).digest("hex");
    sandboxAssets = {
      sandboxClass: "gvisor",
      assets: { amd64: { runsc: { url: `file://${runtime}`, sha256: sha } } },
    };
    registry = await startRegistry();
    image = await pushNodeImage(registry.host, "hog");
    for (const [name, s] of Object.entries(settings)) {
      const info = await agent.createWorker(name, s);
      workers[name] = info.address;
      assert.deepEqual(info.settings ?? {}, s);
      // Requests go only into the worker's own link, which this test's agent made.
      const route = execFileSync("ip", ["-j", "route", "get", info.address], { encoding: "utf8" });
      assert.equal(
        JSON.parse(route)[0]?.dev,
        `${network.prefix}-w${Object.keys(workers).length - 1}`,
      );
    }
  });

  afterEach(async () => {
    // What a test left running (stopping an empty worker resets its network: ≈0.3 s each).
    for (const w of Object.keys(workers))
      if (await current.record(w).catch(() => undefined)) await current.stop(w).catch(() => {});
  });

  after(async () => {
    for (const w of Object.keys(workers)) await current.deleteWorker(w).catch(() => {});
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("kills an actor that allocates past its 128Mi, frees its worker for the next, and another actor keeps serving", async () => {
    await run("free", "bystander");
    await run("mem", "h1");
    const leaf = driver.cgroupOf("mem");
    assert.ok(leaf?.startsWith(`/ate/${network.prefix}/w0/`), String(leaf));
    assert.equal(await driver.cgroups.memoryLimit(leaf ?? "-"), 128 * Mi);
    assert.equal(driver.cgroupOf("free"), undefined, "a worker without limits has no cgroup");
    assert.deepEqual(await getJson(url("mem", "/alloc?mb=16")), { mb: 16 });

    // The bystander answers all along.
    let serving = true;
    let answers = 0;
    const bystander = (async () => {
      while (serving) {
        assert.equal((await get(url("free", "/"), 3000)).status, 200);
        answers++;
        await sleep(100);
      }
    })();
    const seen = exits.length;
    // Never answered: the sandbox is gone before it could.
    void get(url("mem", "/alloc?mb=512"), 20_000).catch(() => {});
    const exit = await nextExit("mem", seen);
    serving = false;
    await bystander;
    assert.ok(answers > 0);

    assert.equal(exit.lastExit?.reason, "OOMKilled");
    assert.match(exit.lastExit?.message ?? "", /went past its memory limit of 128Mi/);
    assert.equal(exit.lastExit?.actor.actorId, "h1");
    assert.equal(exit.actor, undefined);
    const listed = (await agent.listWorkers()).find((w) => w.name === "mem");
    assert.equal(listed?.actor, undefined, "the worker is free");
    assert.equal(listed?.lastExit?.reason, "OOMKilled");
    assert.equal(listed?.lastExit?.actor.actorId, "h1");
    assert.equal(await agent.record("mem"), undefined);
    assert.deepEqual(await getJson(url("free", "/")), { mb: 0, spinners: 0 });

    const next = await run("mem", "h2");
    assert.equal(next.lastExit, undefined, "a new run clears the last exit");
    assert.deepEqual(await getJson(url("mem", "/alloc?mb=16")), { mb: 16 });
    assert.notEqual(driver.cgroupOf("mem"), leaf, "every sandbox gets a fresh cgroup");
    assert.equal((await agent.listWorkers()).find((w) => w.name === "mem")?.lastExit, undefined);
  });

  it("two spinning actors with cpu 500m each get about half a core each", async () => {
    await Promise.all([run("cpu1", "s1"), run("cpu2", "s2")]);
    for (const w of ["cpu1", "cpu2"]) {
      assert.equal(await driver.cgroups.cpuMillis(driver.cgroupOf(w) ?? "-"), 500);
      // Two busy threads each: unlimited, the two would share both cores.
      await getJson(url(w, "/spin"));
      await getJson(url(w, "/spin"));
    }
    await sleep(1000); // a CFS period or ten to settle
    const parents = ["cpu1", "cpu2"].map((_, i) => `/ate/${network.prefix}/w${i + 3}`);
    const t0 = process.hrtime.bigint();
    const u0 = await Promise.all(parents.map((p) => driver.cgroups.cpuUsageNs(p)));
    await sleep(3000);
    const u1 = await Promise.all(parents.map((p) => driver.cgroups.cpuUsageNs(p)));
    const wall = Number(process.hrtime.bigint() - t0);
    const cores = u1.map((u, i) => (u - (u0[i] as number)) / wall);
    for (const c of cores) assert.ok(c > 0.3 && c < 0.7, `cores used: ${cores.join(", ")}`);
  });

  it("keeps the limit across a checkpoint and a restore onto another worker", async () => {
    await run("mem", "h3");
    assert.deepEqual(await getJson(url("mem", "/alloc?mb=16")), { mb: 16 });
    const snap = await agent.checkpoint({
      worker: "mem",
      actor: actor("h3"),
      scope: "Full",
      destination: { kind: "local" },
    });
    await agent.restore({ worker: "mem2", actor: actor("h3"), source: snap.uri, scope: "Full" });
    const leaf = driver.cgroupOf("mem2");
    assert.ok(leaf?.startsWith(`/ate/${network.prefix}/w1/`), String(leaf));
    assert.equal(await driver.cgroups.memoryLimit(leaf ?? "-"), 128 * Mi);
    assert.deepEqual(await getJson(url("mem2", "/")), { mb: 16, spinners: 0 }, "memory kept");
    const seen = exits.length;
    void get(url("mem2", "/alloc?mb=512"), 20_000).catch(() => {});
    const exit = await nextExit("mem2", seen);
    assert.equal(exit.lastExit?.reason, "OOMKilled");
    assert.equal(exit.lastExit?.actor.actorId, "h3");
  });

  it("reports an actor whose process ends as Exited with its code; stops and checkpoints are no exits", async () => {
    const before = exits.length;
    await run("free", "e1");
    await agent.stop("free");
    await run("free", "e2");
    await agent.checkpoint({
      worker: "free",
      actor: actor("e2"),
      scope: "Full",
      destination: { kind: "local" },
    });
    await run("free", "e3");
    await get(url("free", "/exit?code=3"));
    const exit = await nextExit("free", before);
    assert.equal(exit.lastExit?.actor.actorId, "e3", "e1's stop and e2's checkpoint not reported");
    assert.equal(exit.lastExit?.reason, "Exited");
    assert.equal(exit.lastExit?.exitCode, 3);
    assert.equal(exits.length, before + 1);
    await run("free", "e4"); // free again
  });

  it("after an agent restart the new agent watches the sandbox it took over; the old one reports nothing", async () => {
    await run("mem", "r1");
    const before = exits.length;
    const restarted = new NodeAgent({
      stateDir: state,
      drivers: [new GvisorDriver({ stateDir: state, network })],
      assetDirs: [dir],
      onWorkerExit: (w) => heard.push(w),
    });
    const recovered = await restarted.recover();
    assert.equal(recovered.find((w) => w.name === "mem")?.actor?.actorId, "r1");
    assert.equal(exits.length, before, "a restart is no exit");
    void get(url("mem", "/alloc?mb=512"), 20_000).catch(() => {});
    const deadline = Date.now() + 60_000;
    while (!heard.length) {
      assert.ok(Date.now() < deadline, "no exit reported by the restarted agent within 60 s");
      await sleep(50);
    }
    assert.equal(heard[0]?.lastExit?.reason, "OOMKilled");
    assert.equal(heard[0]?.lastExit?.actor.actorId, "r1");
    await sleep(500);
    assert.equal(exits.length, before, "the old agent does not report what it gave up");
    current = restarted; // the old one gave its workers up
    await agent.close(); // and now lets go of the rest (its OOM poll, relays, rule checks)
  });

  it("leaves no cgroup behind once the workers are deleted", async () => {
    assert.notDeepEqual(cgroupDirs(), []);
    const before = exits.length + heard.length;
    await run("mem", "d1");
    for (const w of Object.keys(workers)) await current.deleteWorker(w);
    assert.deepEqual(cgroupDirs(), []);
    assert.equal(exits.length + heard.length, before, "deleting a worker is no exit");
  });
});
