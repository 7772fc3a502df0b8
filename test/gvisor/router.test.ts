// The router in front of real gvisor workers, in the all-in-one substrate.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { silentLogger } from "../../src/log/index.ts";
import { type RunningSubstrate, startSubstrate } from "../../src/up/index.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { applyCounterSetup, waitForGolden } from "../support/counter-resources.ts";
import { removeLeftoverWorkers } from "../support/leftover-workers.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

describe("router with gvisor workers", { timeout: 900_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-router-"));
  let registry: RunningRegistry;
  let ate: RunningSubstrate;
  const network = { prefix: "ater", subnetBase: 100 };
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
      runsc: false, // applyCounterSetup declares the runtime
      stateDir: join(dir, "state"),
      apiAddr: "127.0.0.1:0",
      routerAddr: "127.0.0.1:0",
      nodeName: "node-1",
      network,
      idleTimeoutMs: 0,
      resyncMs: 1000,
      logger: silentLogger,
    });
    const image = await pushCounterImage(registry.host);
    await applyCounterSetup(ate.resources, {
      image,
      snapshotsDir: join(dir, "snapshots"),
      replicas: 2,
      templates: { counter: {}, sleepy: { "ate.dev/idle-timeout-seconds": "1" } },
    });
    await waitForGolden(ate.resources, ["counter", "sleepy"]);
    await ate.controlPlane.createAtespace("demo");
  });

  after(async () => {
    await ate?.stop().catch(() => {});
    await removeLeftoverWorkers(join(dir, "state", "node"), network);
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

  it("serves 6 actors on 2 workers: every request answered by its own actor, every counter right", async () => {
    const actors = Array.from({ length: 6 }, (_, i) => `r${i}`);
    for (const a of actors) await ate.controlPlane.createActor(ref(a), "default", "counter");
    const sent = new Map<string, number>();
    // Two rounds over 6 actors on 2 workers, 4 requests at a time: requests wait for a
    // worker, the least recently used actor is evicted for them, and each actor's second
    // request resumes it from its own snapshot (its counters at 2). Every swap costs a
    // checkpoint and a restore (seconds here); the swap rate is npm run bench's (router).
    const requests = Array.from({ length: 12 }, (_, i) => actors[i % actors.length] as string);
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
      assert.equal(peek.file, 2, `${a} counted every request`);
    }
  });

  it("passes a WebSocket echo and a streamed 100 MB response through a resume", async () => {
    await ate.controlPlane.createActor(ref("w"), "default", "counter");
    const url = new URL(ate.routerUrl);
    const echo = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname, () => {
        socket.write(
          "GET /ws HTTP/1.1\r\nhost: w.demo.actors.resources.substrate.ate.dev\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n",
        );
      });
      let got = Buffer.alloc(0);
      let sent = false;
      socket.on("data", (d) => {
        got = Buffer.concat([got, d]);
        const text = got.toString("latin1");
        if (!sent && text.includes("\r\n\r\n")) {
          assert.match(text, /^HTTP\/1.1 101/);
          got = got.subarray(text.indexOf("\r\n\r\n") + 4);
          const mask = Buffer.from([1, 2, 3, 4]);
          const payload = Buffer.from("hello through a resume");
          socket.write(
            Buffer.concat([
              Buffer.from([0x81, 0x80 | payload.length]),
              mask,
              payload.map((b, i) => b ^ (mask[i % 4] as number)),
            ]),
          );
          sent = true;
        }
        if (sent && got.length >= 2 && got.length >= 2 + (got[1] as number)) {
          socket.destroy();
          resolve(got.subarray(2, 2 + (got[1] as number)).toString());
        }
      });
      socket.on("error", reject);
    });
    assert.equal(echo, "hello through a resume");
    await ate.controlPlane.suspendActor(ref("w"));
    const bytes = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: "/stream?mb=100",
          headers: { host: "w.demo.actors.resources.substrate.ate.dev" },
          agent: false,
        },
        (res) => {
          let n = 0;
          res.on("data", (c: Buffer) => {
            n += c.length;
          });
          res.on("end", () => resolve(n));
        },
      );
      req.on("error", reject);
      req.end();
    });
    assert.equal(bytes, 100 * 1024 * 1024);
    await ate.controlPlane.suspendActor(ref("w"));
  });

  it("refuses malformed hosts, path traversal and oversized headers with 4xx, and keeps serving", async () => {
    const url = new URL(ate.routerUrl);
    const raw = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(url.port), url.hostname, () => socket.end(request));
        let got = "";
        socket.on("data", (d) => {
          got += d;
        });
        socket.on("end", () => resolve(got));
        socket.on("error", reject);
      });
    assert.match(
      await raw("GET / HTTP/1.1\r\nhost: a.b.c.actors.resources.substrate.ate.dev\r\n\r\n"),
      /^HTTP\/1.1 400/,
    );
    assert.match(
      await raw("GET /actors/demo/a/../../etc/passwd HTTP/1.1\r\nhost: x\r\n\r\n"),
      /^HTTP\/1.1 400/,
    );
    assert.match(
      await raw(`GET /actors/demo/a/x HTTP/1.1\r\nhost: x\r\nx-big: ${"y".repeat(40_000)}\r\n\r\n`),
      /^HTTP\/1.1 431/,
    );
    assert.match(await raw("GET / HTTP/1.1\r\nhost: example.com\r\n\r\n"), /^HTTP\/1.1 404/);
    assert.match(await raw("NOT A REQUEST\r\n\r\n"), /^HTTP\/1.1 400/);
    assert.equal((await count("a")).actor, "a", "still serving");
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
