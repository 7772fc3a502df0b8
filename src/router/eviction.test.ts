// Eviction decided by the control plane from the router's reports: requests waiting for a
// worker make it suspend the least recently active idle actor of the waiting actor's pools.
import assert from "node:assert/strict";
import http from "node:http";
import type net from "node:net";
import { after, before, describe, it } from "node:test";
import type { ActivityController } from "../controlplane/index.ts";
import { Router } from "./router.ts";
import { type RouterTestbed, routerTestbed } from "./testing.ts";

describe("eviction from the router's reports", () => {
  let releaseSlow = () => {};
  const slow = new Promise<void>((resolve) => {
    releaseSlow = resolve;
  });
  // Requests to /slow held by the actors, and a wait until n of them have arrived.
  let held = 0;
  let onHeld = () => {};
  const heldAtLeast = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => (held >= n ? resolve() : undefined);
      onHeld = check;
      check();
    });
  const app =
    (id: string): http.RequestListener =>
    (req, res) => {
      if (req.url === "/slow") {
        held++;
        onHeld();
        return void slow.then(() => res.end(id));
      }
      res.end(id);
    };
  let bed: RouterTestbed;
  let router: Router;
  let activity: ActivityController;
  const server = http.createServer((req, res) => router.handle(req, res));
  let port = 0;
  const get = (actor: string, path = "/x") =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port, path: `/actors/t/${actor}${path}`, agent: false },
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
  const status = (id: string, atespace = "t") => bed.status(id, atespace);
  const suspends = () => bed.agent.calls.checkpoint;

  before(async () => {
    bed = await routerTestbed(app, { a: 2, b: 1 });
    for (const id of ["x1", "x2", "z", "u"]) await bed.add(id, { pool: "a" });
    await bed.add("y", { pool: "b" });
    await bed.add("g", { pool: "a", atespace: "ate-golden" });
    router = new Router({ backend: bed.backend(), queueWaitMs: 5000, reportIntervalMs: 100 });
    router.start();
    activity = bed.startActivity({ idleTimeoutMs: 0 });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    releaseSlow();
    await router.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await bed.close();
  });

  it("suspends the least recently active idle actor of the waiting actor's pools, not another pool's", async () => {
    // y (pool b) is the least recently used of all, but freeing its worker would not help z.
    for (const id of ["y", "x1", "x2"]) assert.equal((await get(id)).body, id);
    const r = await get("z");
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, "z");
    assert.equal(await status("y"), "RUNNING", "the other pool's actor kept its worker");
    assert.equal(
      await status("x1"),
      "SUSPENDED",
      "the least recently used actor of pool a made room",
    );
    assert.equal(await status("x2"), "RUNNING");
    assert.equal(suspends(), 1);
  });

  it("suspends no actor with a request under way, and says so", async () => {
    // Pool a holds x2 and z; both are busy.
    const pending = [get("x2", "/slow"), get("z", "/slow")];
    await heldAtLeast(2);
    // The control plane knows once a report says so.
    for (;;) {
      const reports = await bed.cp.activity.reports();
      const busy = (key: string) =>
        reports.some((rep) => rep.actors.some((e) => e.key === key && e.inFlight > 0));
      if (busy("t/x2") && busy("t/z")) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await activity.evictFor("t", "x1"), false);
    assert.equal(await status("x2"), "RUNNING");
    assert.equal(await status("z"), "RUNNING");
    releaseSlow();
    assert.deepEqual(
      (await Promise.all(pending)).map((r) => r.body),
      ["x2", "z"],
    );
  });

  it("counts a resume as use, and never takes a golden actor", async () => {
    await bed.cp.suspendActor({ atespace: "t", name: "z" });
    await bed.cp.resumeActor({ atespace: "t", name: "u" }); // through the API, just now
    assert.equal(await activity.evictFor("t", "x1"), true);
    assert.equal(await status("x2"), "SUSPENDED", "last used before u was resumed");
    assert.equal(await status("u"), "RUNNING");
    await bed.cp.resumeActor({ atespace: "ate-golden", name: "g" }); // a golden snapshot being made
    assert.equal(await activity.evictFor("t", "x1"), true);
    assert.equal(await status("u"), "SUSPENDED");
    assert.equal(await status("g", "ate-golden"), "RUNNING", "a golden actor is never evicted");
    assert.equal(await activity.evictFor("t", "x1"), false, "only the golden actor is left");
    assert.equal(await status("g", "ate-golden"), "RUNNING");
  });
});

describe("ten actors on two workers, through one router", () => {
  it("answers every request by its own actor, each swap decided by the control plane", async () => {
    const bed = await routerTestbed((id) => (_req, res) => res.end(id), { p: 2 });
    // Evictions take only actors that can be suspended: none is refused mid-transition.
    const cp = bed.cp as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const suspend = (cp.suspendActor as (...a: unknown[]) => Promise<unknown>).bind(bed.cp);
    const refused: string[] = [];
    cp.suspendActor = (...a: unknown[]) =>
      suspend(...a).catch((err: Error) => {
        refused.push(err.message);
        throw err;
      });
    // Checkpoints and restores take a while, as real ones do.
    const agent = bed.agent as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    for (const m of ["checkpoint", "restore", "run"]) {
      const real = (agent[m] as (...a: unknown[]) => Promise<unknown>).bind(bed.agent);
      agent[m] = async (...a: unknown[]) => {
        await new Promise((r) => setTimeout(r, 100));
        return real(...a);
      };
    }
    const actors = Array.from({ length: 10 }, (_, i) => `r${i}`);
    for (const a of actors) await bed.add(a);
    const router = new Router({ backend: bed.backend(), reportIntervalMs: 200 });
    router.start();
    bed.startActivity({ idleTimeoutMs: 0, intervalMs: 200 });
    const server = http.createServer(router.handle);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const get = (actor: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        http
          .get({ host: "127.0.0.1", port, path: `/actors/t/${actor}/x`, agent: false }, (res) => {
            let body = "";
            res.on("data", (c) => {
              body += c;
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          })
          .on("error", reject);
      });
    try {
      const requests = Array.from({ length: 20 }, (_, i) => actors[i % actors.length] as string);
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < requests.length) {
            const actor = requests[next++] as string;
            assert.deepEqual(await get(actor), { status: 200, body: actor });
          }
        }),
      );
      assert.deepEqual(refused, []);
    } finally {
      await router.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await bed.close();
    }
  });
});
