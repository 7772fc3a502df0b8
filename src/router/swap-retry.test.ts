import assert from "node:assert/strict";
import http from "node:http";
import type net from "node:net";
import { after, before, describe, it } from "node:test";
import { Router } from "./router.ts";
import { type RouterTestbed, routerTestbed } from "./testing.ts";

// Under oversubscription an actor may be evicted again between its resume and the request
// that waited for it: the request is forwarded again (to its next run), not answered 502.
describe("a request whose actor is swapped out again right after its resume", () => {
  let bed: RouterTestbed;
  let router: Router;
  let port = 0;
  let evictOnResume = 0;
  const server = http.createServer((req, res) => router.handle(req, res));
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
          let body = "";
          res.on("data", (c) => {
            body += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        })
        .on("error", reject);
    });

  before(async () => {
    bed = await routerTestbed(
      (id) => (_req, res) => res.end(id),
      { p: 2 },
      { drainTimeoutMs: 200 },
    );
    await bed.add("a");
    const backend = bed.backend();
    const resume = backend.resumeActor.bind(backend);
    // The answer the router gets is stale by the time it connects: the actor was suspended.
    backend.resumeActor = async (atespace, actor) => {
      const answer = await resume(atespace, actor);
      if (evictOnResume > 0) {
        evictOnResume--;
        await bed.cp.suspendActor({ atespace, name: actor });
      }
      return answer;
    };
    router = new Router({ backend, queueWaitMs: 5000, reportIntervalMs: 100 });
    router.start();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    await router.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await bed.close();
  });

  it("is forwarded to the actor's next run, failing nothing", async () => {
    assert.deepEqual(await get("/actors/t/a/x"), { status: 200, body: "a" });
    // The router hears nothing meanwhile (its watch held): it learns by being refused.
    const release = bed.holdWatches();
    try {
      await bed.cp.suspendActor({ atespace: "t", name: "a" });
      evictOnResume = 2;
      const resumes = bed.calls.ResumeActor ?? 0;
      assert.deepEqual(await get("/actors/t/a/x"), { status: 200, body: "a" });
      assert.equal((bed.calls.ResumeActor ?? 0) - resumes, 3, "refused twice, each by a new run");
    } finally {
      release();
    }
  });

  it("still answers 502 when the same run of the actor keeps refusing", async () => {
    assert.deepEqual(await get("/actors/t/a/x"), { status: 200, body: "a" });
    const release = bed.holdWatches();
    try {
      await bed.agent.vanish("a"); // its server is gone; the control plane still says RUNNING
      const r = await get("/actors/t/a/x");
      assert.equal(r.status, 502);
    } finally {
      release();
    }
  });
});

// A request waiting for a worker waits on while workers keep being freed (swaps go on), and
// fails only once none was freed for queueWaitMs.
describe("a request waiting for a worker while swaps go on", () => {
  let bed: RouterTestbed;
  let router: Router;
  let port = 0;
  const server = http.createServer((req, res) => router.handle(req, res));
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
          let body = "";
          res.on("data", (c) => {
            body += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        })
        .on("error", reject);
    });

  before(async () => {
    bed = await routerTestbed((id) => (_req, res) => res.end(id), { p: 1, q: 1 });
    await bed.add("holder", { pool: "p" });
    await bed.add("waiter", { pool: "p" });
    await bed.add("other", { pool: "q" });
    router = new Router({ backend: bed.backend(), queueWaitMs: 400, reportIntervalMs: 100 });
    router.start();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    await router.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await bed.close();
  });

  it("is served once its pool frees a worker, however long that took while others were freed", async () => {
    assert.equal((await get("/actors/t/holder/x")).status, 200);
    const t = Date.now();
    const waiting = get("/actors/t/waiter/x");
    // Another pool's worker is freed and taken again every 150 ms: swaps go on.
    for (let i = 0; i < 6; i++) {
      await bed.cp.resumeActor({ atespace: "t", name: "other" });
      await new Promise((r) => setTimeout(r, 150));
      await bed.cp.suspendActor({ atespace: "t", name: "other" });
    }
    await bed.cp.suspendActor({ atespace: "t", name: "holder" });
    assert.deepEqual(await waiting, { status: 200, body: "waiter" });
    assert.ok(Date.now() - t > 400, "it waited past queueWaitMs");
  });

  it("still fails after queueWaitMs when no worker is freed", async () => {
    // The waiter holds pool p's worker now; nothing frees it, nor any other worker.
    await new Promise((r) => setTimeout(r, 500));
    const t = Date.now();
    const r = await get("/actors/t/holder/x");
    assert.equal(r.status, 503);
    assert.ok(Date.now() - t < 5000);
  });
});
