// Two routers on one control plane: both hear every change; idle suspension is decided once,
// by the control plane, from both routers' reports; watches reconnect; drains hold checkpoints.
import assert from "node:assert/strict";
import http from "node:http";
import type net from "node:net";
import { after, before, describe, it } from "node:test";
import { Router } from "./router.ts";
import { type RouterTestbed, routerTestbed } from "./testing.ts";

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    assert.ok(Date.now() < deadline, `${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("two routers on one control plane", () => {
  let releaseSlow = () => {};
  let slow = Promise.resolve();
  const holdSlow = () => {
    slow = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
  };
  let arrived = 0;
  const app =
    (id: string): http.RequestListener =>
    (req, res) => {
      if (req.url === "/slow") {
        arrived++;
        return void slow.then(() => res.end(`${id} slow`));
      }
      res.end(id);
    };
  let bed: RouterTestbed;
  const routers: Router[] = [];
  const servers: http.Server[] = [];
  const ports: number[] = [];
  const get = (router: number, actor: string, path = "/x") =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: ports[router],
          path: `/actors/t/${actor}${path}`,
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
  const suspends = () => bed.agent.calls.checkpoint;

  before(async () => {
    bed = await routerTestbed(app, { p: 8 }, { drainTimeoutMs: 5000 });
    for (const id of ["a", "b", "c", "d", "e"]) await bed.add(id);
    await bed.add("idle", { idleSeconds: 1 });
    for (let i = 0; i < 2; i++) {
      const router = new Router({
        backend: bed.backend({ backoffMinMs: 20, backoffMaxMs: 100 }),
        queueWaitMs: 2000,
        reportIntervalMs: 100,
        id: `router-${i}`,
      });
      router.start();
      routers.push(router);
      const server = http.createServer(router.handle);
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      ports.push((server.address() as net.AddressInfo).port);
    }
    await until("both watches live", () => routers.every((r) => r.metrics.watchLive));
  });
  after(async () => {
    releaseSlow();
    for (const r of routers) await r.stop();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await bed.close();
  });

  it("both hear a change: a suspend drops the route on each", async () => {
    assert.equal((await get(0, "a")).body, "a");
    assert.equal((await get(1, "a")).body, "a");
    assert.deepEqual(
      routers.map((r) => r.routeCount),
      [1, 1],
    );
    await bed.cp.suspendActor({ atespace: "t", name: "a" });
    await until("both dropped it", () => routers.every((r) => r.routeCount === 0));
    assert.equal((await get(1, "a")).body, "a", "resumed by the next request");
    assert.equal((await get(0, "a")).body, "a", "the other router found it running");
  });

  it("keeps an actor busy on one router running, though the other saw no traffic", async () => {
    const activity = bed.startActivity({ idleTimeoutMs: 0 });
    holdSlow();
    const before = arrived;
    const pending = get(1, "idle", "/slow"); // router 1 holds a request; router 0 sees none
    await until("the request reached the actor", () => arrived > before);
    const checkpoints = suspends();
    await new Promise((r) => setTimeout(r, 2000)); // twice its idle timeout
    assert.equal(await bed.status("idle"), "RUNNING", "busy on router 1");
    assert.equal(suspends(), checkpoints);
    releaseSlow();
    assert.equal((await pending).body, "idle slow");
    await until("suspended once idle", async () => (await bed.status("idle")) === "SUSPENDED");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(suspends(), checkpoints + 1, "suspended once, not by each router");
    void activity;
  });

  it("lets a request under way finish before the checkpoint, and resumes for one that came meanwhile", async () => {
    assert.equal((await get(0, "b")).body, "b");
    holdSlow();
    const before = arrived;
    const first = get(0, "b", "/slow");
    await until("the request reached the actor", () => arrived > before);
    let suspended = false;
    const suspend = bed.cp.suspendActor({ atespace: "t", name: "b" }).then(() => {
      suspended = true;
    });
    await until("marked", async () => (await bed.status("b")) === "SUSPENDING");
    const second = get(1, "b"); // waits: the actor is being checkpointed
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(suspended, false, "the checkpoint waits for the request under way");
    releaseSlow();
    assert.deepEqual(await first, { status: 200, body: "b slow" });
    await suspend;
    assert.deepEqual(await second, { status: 200, body: "b" }, "resumed after the checkpoint");
  });

  it("reconnects a broken watch after the changes it missed", async () => {
    assert.equal((await get(0, "c")).body, "c");
    const routes = routers[0]?.routeCount ?? 0;
    const watches = bed.calls.WatchActors ?? 0;
    const release = bed.holdWatches();
    await bed.cp.suspendActor({ atespace: "t", name: "c" });
    bed.breakWatches();
    release();
    await until("reconnected", () => (bed.calls.WatchActors ?? 0) >= watches + 2);
    await until("live again", () => routers.every((r) => r.metrics.watchLive));
    await until(
      "the missed suspend dropped the route",
      () => routers[0]?.routeCount === routes - 1,
    );
    assert.equal((await get(0, "c")).body, "c");
  });

  it("lists afresh when the control plane no longer has the changes it missed", async () => {
    assert.equal((await get(0, "d")).body, "d");
    const routes = routers[0]?.routeCount ?? 0;
    const release = bed.holdWatches();
    await bed.cp.suspendActor({ atespace: "t", name: "d" });
    bed.breakWatches({ forgetCursors: true }); // the reconnect's cursor is refused: OUT_OF_RANGE
    release();
    // An OUT_OF_RANGE reconnect lists again: d is not running, so its route goes.
    await until(
      "the missed suspend dropped the route",
      () => routers[0]?.routeCount === routes - 1,
    );
    bed.breakWatches(); // back to cursors that work
    await until("live again", () => routers.every((r) => r.metrics.watchLive));
    assert.equal((await get(0, "d")).body, "d");
  });

  it("finds an actor created a moment ago, before its watch event arrives", async () => {
    const release = bed.holdWatches();
    try {
      await bed.add("fresh");
      assert.equal((await get(0, "fresh")).body, "fresh");
    } finally {
      release();
    }
  });
});
