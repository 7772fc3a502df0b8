// Memory limits through `ate up` (every component in one process, real gvisor sandboxes): an
// actor that allocates past its WorkerPool's `template.resources.limits.memory` is killed in
// its sandbox and goes back to SUSPENDED at its last snapshot with the reason, shown by
// `ate get actors -o wide`; its worker is free, another actor carries on, and the next request
// resumes it.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ActorTemplateType,
  SandboxConfigType,
  WorkerPoolType,
} from "../../src/api/v1alpha1/index.ts";
import { jsonLogger, silentLogger } from "../../src/log/index.ts";
import { type RunningSubstrate, startSubstrate } from "../../src/up/index.ts";
import { runCliCaptured } from "../support/cli.ts";
import { waitForGolden } from "../support/counter-resources.ts";
import { get } from "../support/http.ts";
import { removeLeftoverWorkers } from "../support/leftover-workers.ts";
import { workerNetworkNames } from "../support/machine-workers.ts";
import { pushNodeImage } from "../support/node-image.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

/** The hog fixture's port (test/fixtures/hog/hog.js). */
const hogPort = 8080;

describe("memory limits through ate up", { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-limits-up-"));
  let registry: RunningRegistry | undefined;
  let ate: RunningSubstrate | undefined;
  let prefix = "";

  after(async () => {
    // Bounded: a substrate stuck in a failed run must not keep its leftovers from being removed.
    const bound = new AbortController(); // the bound's timer goes once the stop is done
    await Promise.race([
      ate?.stop().catch(() => {}),
      sleep(120_000, undefined, { signal: bound.signal }).catch(() => {}),
    ]);
    bound.abort();
    if (prefix) await removeLeftoverWorkers(join(dir, "state", "node"), { prefix });
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The CLI against this substrate's API, in process. */
  const cli = async (...args: string[]) => {
    const s = ate as RunningSubstrate;
    const { code, out, err } = await runCliCaptured([
      "--server",
      s.apiUrl,
      "--token",
      s.credential.token,
      ...args,
    ]);
    assert.equal(code, 0, `ate ${args.join(" ")}: ${err}`);
    return out;
  };
  const until = async <T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) assert.fail(`${what} within ${ms / 1000} s`);
      await sleep(100);
    }
  };

  it("an actor past its memory limit goes back to its snapshot, OOMKilled, and resumes on the next request", async () => {
    registry = await startRegistry();
    const image = await pushNodeImage(registry.host, "hog");
    ate = await startSubstrate({
      runsc: false,
      stateDir: join(dir, "state"),
      apiAddr: "127.0.0.1:0",
      routerAddr: "127.0.0.1:0",
      nodeName: "node-1",
      idleTimeoutMs: 0,
      logger: process.env.LIMITS_DEBUG ? jsonLogger("debug") : silentLogger,
    });
    prefix = ate.network.prefix;
    const snapshotsDir = join(dir, "snapshots");
    const runsc = readFileSync("/usr/bin/runsc");
    await ate.resources.create(SandboxConfigType, {
      apiVersion: "ate.dev/v1alpha1",
      kind: "SandboxConfig",
      metadata: { name: "gvisor-default" },
      spec: {
        sandboxClass: "gvisor",
        default: true,
        assets: {
          amd64: {
            runsc: {
              url: "file:///usr/bin/runsc",
              sha256: createHash("sha256").update(runsc).digest("hex"),
            },
          },
        },
      },
    });
    // Two workers of at most 128Mi each.
    await ate.resources.create(WorkerPoolType, {
      apiVersion: "ate.dev/v1alpha1",
      kind: "WorkerPool",
      metadata: { name: "pool", namespace: "default" },
      spec: {
        replicas: 2,
        ateomImage: "local",
        template: { resources: { limits: { memory: "128Mi" } } },
      },
    });
    await ate.resources.create(ActorTemplateType, {
      apiVersion: "ate.dev/v1alpha1",
      kind: "ActorTemplate",
      metadata: { name: "hog", namespace: "default" },
      spec: {
        pauseImage: image,
        containers: [
          { name: "hog", image, readyz: { httpGet: { path: "/readyz", port: hogPort } } },
        ],
        snapshotsConfig: { location: `file://${snapshotsDir}` },
      },
    });
    await waitForGolden(ate.resources, ["hog"], 180_000);
    const workers = await cli("get", "workers", "-o", "wide");
    assert.match(workers, /MEMORY\s+CPU\s+EGRESS/);
    assert.equal(workers.match(/\s128Mi\s+-\s+default\s/g)?.length, 2, workers);

    const cp = ate.controlPlane;
    const ref = (name: string) => ({ atespace: "demo", name });
    await cp.createAtespace("demo");
    for (const name of ["hog", "calm"]) await cp.createActor(ref(name), "default", "hog");
    const url = (name: string, path: string) => `${ate?.routerUrl}/actors/demo/${name}${path}`;
    for (const name of ["hog", "calm"]) {
      const r = await get(url(name, "/alloc?mb=8"), 60_000);
      assert.equal(r.status, 200, `${name}: ${r.body}`);
    }
    const hogWorker = (await cp.getActor(ref("hog"))).worker?.name;
    assert.ok(hogWorker);
    const running = await cli("get", "actors", "-a", "demo", "-o", "wide");
    assert.match(running, /\shog\s+RUNNING\s.*\spool\s+128Mi\s+-\s+<none>\s/, running);

    // Past the limit: the sandbox is killed while the request is under way.
    const killed = await get(url("hog", "/alloc?mb=256"), 60_000).catch((e: Error) => ({
      status: 0,
      body: e.message,
    }));
    assert.notEqual(killed.status, 200, "the allocation cannot succeed");
    const back = await until("the hog actor back at its snapshot", async () => {
      const a = await cp.getActor(ref("hog"));
      return a.status === "SUSPENDED" ? a : undefined;
    });
    assert.equal(back.lastExit?.reason, "OOMKilled");
    assert.equal(back.worker, undefined);
    assert.equal(back.latestSnapshot, undefined, "never suspended: it starts from the golden");
    const freed = (await cp.listWorkers()).find((w) => w.name === hogWorker);
    assert.equal(freed?.actor, undefined, "its worker is free");
    const wide = await cli("get", "actors", "-a", "demo", "-o", "wide");
    assert.match(wide, /\shog\s+SUSPENDED\s.*\sOOMKilled \d+s\s/, wide);

    // The other actor carried on, its memory intact.
    assert.equal((await cp.getActor(ref("calm"))).status, "RUNNING");
    const calm = await get(url("calm", "/alloc?mb=8"), 30_000);
    assert.equal(calm.status, 200, calm.body);
    assert.deepEqual(JSON.parse(calm.body), { mb: 16 }, "it kept what it had");

    // The next request resumes it.
    const again = await get(url("hog", "/alloc?mb=8"), 60_000);
    assert.equal(again.status, 200, again.body);
    assert.deepEqual(JSON.parse(again.body), { mb: 8 }, "afresh, from the golden snapshot");
    const resumed = await cp.getActor(ref("hog"));
    assert.equal(resumed.status, "RUNNING");
    assert.equal(resumed.lastExit?.reason, "OOMKilled", "the last exit stays on record");

    const stopped = await ate.stop();
    ate = undefined;
    assert.deepEqual(stopped.left, []);
    assert.deepEqual(workerNetworkNames(prefix), []);
  });
});
