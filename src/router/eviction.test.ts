import assert from "node:assert/strict";
import http from "node:http";
import type net from "node:net";
import { after, before, describe, it } from "node:test";
import { Router } from "./router.ts";
import { FakeBackend } from "./testing.ts";

describe("router eviction", () => {
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
  const backend = new FakeBackend(
    (id) => (req, res) => {
      if (req.url === "/slow") {
        held++;
        onHeld();
        return void slow.then(() => res.end(id));
      }
      res.end(id);
    },
    { a: 2, b: 1 },
  );
  const router = new Router({ backend, queueWaitMs: 5000, idleTimeoutMs: 0 });
  const server = http.createServer(router.handle);
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
  const status = (id: string) => backend.actors.get(id)?.status;

  before(async () => {
    for (const id of ["x1", "x2", "z", "u"]) backend.add(id, ["a"]);
    backend.add("y", ["b"]);
    backend.add("g", ["a"], "ate-golden");
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    releaseSlow();
    router.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await backend.close();
  });

  it("suspends the least recently used idle actor of the waiting actor's pools, not another pool's", async () => {
    // y (pool b) is the least recently used of all, but freeing its worker would not help z.
    for (const id of ["y", "x1", "x2"]) assert.equal((await get(id)).body, id);
    const r = await get("z");
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, "z");
    assert.equal(status("y"), "RUNNING", "the other pool's actor kept its worker");
    assert.equal(status("x1"), "SUSPENDED", "the least recently used actor of pool a made room");
    assert.equal(status("x2"), "RUNNING");
    assert.equal(backend.calls.suspend, 1);
  });

  it("suspends no actor with a request under way, and says so", async () => {
    // Pool a holds x2 and z; both are busy.
    const pending = [get("x2", "/slow"), get("z", "/slow")];
    await heldAtLeast(2);
    assert.equal(await router.evictFor("t", "x1"), false);
    assert.equal(status("x2"), "RUNNING");
    assert.equal(status("z"), "RUNNING");
    releaseSlow();
    assert.deepEqual(
      (await Promise.all(pending)).map((r) => r.body),
      ["x2", "z"],
    );
  });

  it("takes a running actor it never forwarded to first, and never a golden actor", async () => {
    await backend.suspendActor("t", "z");
    await backend.resumeActor("t", "u"); // through the API: the router has no idle time for it
    assert.equal(await router.evictFor("t", "x1"), true);
    assert.equal(status("u"), "SUSPENDED", "never used through the router: least recently used");
    assert.equal(status("x2"), "RUNNING");
    await backend.resumeActor("ate-golden", "g"); // a golden snapshot being made
    assert.equal(await router.evictFor("t", "x1"), true);
    assert.equal(status("x2"), "SUSPENDED");
    assert.equal(status("g"), "RUNNING", "a golden actor is never evicted");
    await backend.resumeActor("t", "u");
    assert.equal(await router.evictFor("t", "x1"), true);
    assert.equal(status("u"), "SUSPENDED");
    assert.equal(await router.evictFor("t", "x1"), false, "only the golden actor is left");
    assert.equal(status("g"), "RUNNING");
  });
});
