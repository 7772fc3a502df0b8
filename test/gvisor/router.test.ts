// The router in front of real gvisor workers, in the all-in-one substrate.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ActorTemplateType,
  SandboxConfigType,
  WorkerPoolType,
} from "../../src/api/v1alpha1/index.ts";
import { silentLogger } from "../../src/log/index.ts";
import { type RunningSubstrate, startSubstrate } from "../../src/up/index.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

describe("router with gvisor workers", { timeout: 900_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-router-"));
  let registry: RunningRegistry;
  let ate: RunningSubstrate;
  const ref = (name: string) => ({ atespace: "demo", name });
  const get = (actor: string, path = "/count") =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(ate.routerUrl);
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path,
          headers: { host: `${actor}.demo.actors.resources.substrate.ate.dev` },
          agent: false,
        },
        (res) => {
          let body = "";
          res.on("data", (c) => {
            body += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end();
    });
  const count = async (actor: string) => {
    const r = await get(actor);
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body) as { memory: number; file: number; actor: string };
  };

  before(async () => {
    registry = await startRegistry();
    ate = await startSubstrate({
      stateDir: join(dir, "state"),
      apiAddr: "127.0.0.1:0",
      routerAddr: "127.0.0.1:0",
      nodeName: "node-1",
      network: { prefix: "ater", subnetBase: 100 },
      idleTimeoutMs: 0,
      resyncMs: 1000,
      logger: silentLogger,
    });
    const image = await pushCounterImage(registry.host);
    const sha = createHash("sha256").update(readFileSync("/usr/bin/runsc")).digest("hex");
    const r = ate.resources;
    await r.create(SandboxConfigType, {
      apiVersion: "ate.dev/v1alpha1",
      kind: "SandboxConfig",
      metadata: { name: "gvisor" },
      spec: {
        default: true,
        assets: { amd64: { runsc: { url: "file:///usr/bin/runsc", sha256: sha } } },
      },
    });
    await r.create(WorkerPoolType, {
      apiVersion: "ate.dev/v1alpha1",
      kind: "WorkerPool",
      metadata: { name: "pool", namespace: "default" },
      spec: { replicas: 2, ateomImage: "local" },
    });
    for (const [name, idle] of [
      ["counter", undefined],
      ["sleepy", "2"],
    ] as const) {
      await r.create(ActorTemplateType, {
        apiVersion: "ate.dev/v1alpha1",
        kind: "ActorTemplate",
        metadata: {
          name,
          namespace: "default",
          ...(idle ? { annotations: { "ate.dev/idle-timeout-seconds": idle } } : {}),
        },
        spec: {
          pauseImage: image,
          containers: [
            {
              name: "counter",
              image,
              readyz: { httpGet: { port: 8080 } },
              volumeMounts: [{ name: "data", mountPath: "/data" }],
            },
          ],
          volumes: [{ name: "data", durableDir: {} }],
          snapshotsConfig: { location: `file://${join(dir, "snapshots")}` },
        },
      });
    }
    for (let i = 0; ; i++) {
      const statuses = await Promise.all(
        ["counter", "sleepy"].map(
          async (n) =>
            (await r.get(ActorTemplateType, "default", n)).status as { phase?: string } | undefined,
        ),
      );
      const phases = statuses.map((s) => s?.phase);
      if (phases.every((p) => p === "Ready")) break;
      assert.ok(
        i < 600 && !phases.includes("Failed"),
        `golden snapshots: ${JSON.stringify(statuses)}`,
      );
      await sleep(100);
    }
    await ate.controlPlane.createAtespace("demo");
  });

  after(async () => {
    await ate?.stop();
    for (const w of await ate.agent.listWorkers().catch(() => []))
      await ate.agent.deleteWorker(w.name).catch(() => {});
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("resumes a suspended actor on request, and again after an API suspend, with its counter continuing", async () => {
    await ate.controlPlane.createActor(ref("a"), "default", "counter");
    assert.deepEqual(await count("a"), { memory: 1, file: 1, actor: "a" });
    await ate.controlPlane.suspendActor(ref("a"));
    assert.equal((await ate.controlPlane.getActor(ref("a"))).status, "SUSPENDED");
    assert.deepEqual(await count("a"), { memory: 2, file: 2, actor: "a" });
    await ate.controlPlane.suspendActor(ref("a"));
  });

  it("answers 50 concurrent requests to a suspended actor with one restore", async () => {
    await ate.controlPlane.createActor(ref("b"), "default", "counter");
    const before = ate.controlPlane ? (await ate.controlPlane.getActor(ref("b"))).version : 0;
    const results = await Promise.all(Array.from({ length: 50 }, () => get("b")));
    assert.ok(
      results.every((r) => r.status === 200),
      JSON.stringify(results.find((r) => r.status !== 200)),
    );
    const memories = results
      .map((r) => (JSON.parse(r.body) as { memory: number }).memory)
      .sort((x, y) => x - y);
    assert.deepEqual(
      memories,
      Array.from({ length: 50 }, (_, i) => i + 1),
      "one actor answered them all, in memory",
    );
    const b = await ate.controlPlane.getActor(ref("b"));
    assert.equal(b.version - before, 2, "exactly one resume (RESUMING, RUNNING)");
    await ate.controlPlane.suspendActor(ref("b"));
  });

  it("serves 10 actors on 2 workers: every request answered by its own actor, every counter right", async () => {
    const actors = Array.from({ length: 10 }, (_, i) => `r${i}`);
    for (const a of actors) await ate.controlPlane.createActor(ref(a), "default", "counter");
    const sent = new Map<string, number>();
    const requests = Array.from({ length: 200 }, (_, i) => actors[i % actors.length] as string);
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < requests.length) {
          const actor = requests[next++] as string;
          const r = await count(actor);
          assert.equal(r.actor, actor, "answered by the actor it was sent to");
          sent.set(actor, (sent.get(actor) ?? 0) + 1);
          assert.equal(r.file, sent.get(actor), `${actor}'s file counter`);
        }
      }),
    );
    for (const a of actors) {
      const peek = JSON.parse((await get(a, "/peek")).body) as { file: number };
      assert.equal(peek.file, 20, `${a} counted every request`);
    }
  });

  it("suspends an actor idle past its template's timeout; the next request resumes it", async () => {
    await ate.controlPlane.createActor(ref("s"), "default", "sleepy");
    assert.equal((await count("s")).memory, 1);
    for (let i = 0; (await ate.controlPlane.getActor(ref("s"))).status !== "SUSPENDED"; i++) {
      assert.ok(i < 100, "suspended within 10 s");
      await sleep(100);
    }
    assert.deepEqual(await count("s"), { memory: 2, file: 2, actor: "s" });
  });
});
