import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { RouteCache } from "./route-cache.ts";
import { Router } from "./router.ts";
import { type RouterTestbed, routerTestbed } from "./testing.ts";

const address = (actor: string) => ({ atespace: "t", actor, path: "/" });

describe("route cache", () => {
  it("keeps at most `max` routes, dropping the least recently used idle ones, never one in use", () => {
    const cache = new RouteCache(3);
    const a = cache.use(address("a"));
    a.inflight = 1; // a request is under way: a must stay
    for (const n of ["b", "c", "d"]) cache.use(address(n));
    assert.deepEqual(
      cache.list().map((r) => r.actor),
      ["a", "c", "d"],
      "b (least recently used, idle) went; a stayed though older",
    );
    cache.use(address("c")); // c becomes the most recently used
    cache.use(address("e"));
    assert.deepEqual(
      cache.list().map((r) => r.actor),
      ["a", "c", "e"],
    );
    const used = cache.list();
    for (const r of used) r.inflight = 1;
    const f = cache.use(address("f"));
    assert.equal(cache.size, 4, "all in use: beyond max rather than dropping one in use");
    assert.equal(cache.peek("t/f"), f, "the route being used is never the one dropped");
  });

  it("releases a route only when its actor does not run and nothing uses it", () => {
    const cache = new RouteCache();
    const r = cache.use(address("a"));
    r.target = { host: "127.0.0.1", port: 1, worker: "w" };
    cache.agent(r, r.target);
    cache.release(r);
    assert.equal(cache.size, 1, "running: kept");
    cache.unroute(r);
    assert.equal(r.agent, undefined, "its pooled connections are closed");
    r.inflight = 1;
    cache.release(r);
    assert.equal(cache.size, 1, "in use: kept");
    r.inflight = 0;
    cache.release(r);
    assert.equal(cache.size, 0);
  });
});

describe("router's route cache", () => {
  let bed: RouterTestbed;
  let router: Router;
  // No header/request timeouts: 25 000 pipelined requests on a busy machine can take longer
  // than Node's defaults, which would reset the connection and prove nothing about the router.
  const server = http.createServer({ headersTimeout: 0, requestTimeout: 0 }, (req, res) =>
    router.handle(req, res),
  );
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  let port = 0;
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, path, agent }, (res) => {
        let body = "";
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });

  before(async () => {
    bed = await routerTestbed((id) => (_req, res) => res.end(id));
    for (const id of ["a", "b", "c", "d", "e"]) await bed.add(id);
    router = new Router({ backend: bed.backend(), maxRoutes: 3, queueWaitMs: 500 });
    router.start();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    await router.stop();
    agent.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await bed.close();
  });

  it("keeps nothing for 100 000 distinct unknown names", async () => {
    // Pipelined over a few connections: the router's work, not the client's, sets the pace.
    const connections = 4;
    const each = 25_000;
    const statuses = await Promise.all(
      Array.from({ length: connections }, (_, c) => pipelined(port, c, each)),
    );
    assert.deepEqual(statuses, Array(connections).fill({ "404": each }));
    assert.equal(router.routeCount, 0);
    assert.match(await router.metrics.render(), /^ate_router_routes 0$/m);
  });

  it("drops an actor's route when it leaves RUNNING", async () => {
    assert.equal((await get("/actors/t/a/x")).body, "a");
    assert.equal(router.routeCount, 1);
    await bed.cp.suspendActor({ atespace: "t", name: "a" });
    for (let i = 0; (router.routeCount as number) !== 0; i++) {
      assert.ok(i < 100, "dropped as the watch tells");
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal((await get("/actors/t/a/x")).body, "a", "the next request resumes it");
    await bed.cp.suspendActor({ atespace: "t", name: "a" });
  });

  it("keeps the most recently used running actors up to its bound", async () => {
    for (const id of ["a", "b", "c", "d", "e"])
      assert.equal((await get(`/actors/t/${id}/x`)).body, id);
    assert.equal(router.routeCount, 3);
    const asks = () => (bed.calls.GetActor ?? 0) + (bed.calls.ResumeActor ?? 0);
    const before = asks();
    await get("/actors/t/e/x");
    assert.equal(asks(), before, "a recent actor is served from the cache");
    assert.equal((await get("/actors/t/a/x")).body, "a");
    assert.equal(asks(), before, "a dropped one is found again from the watch");
    assert.equal(router.routeCount, 3);
  });
});

/** Sends `n` GETs for distinct unknown actors on one connection at once; counts the statuses. */
function pipelined(port: number, c: number, n: number): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const requests = Array.from(
      { length: n },
      (_, i) => `GET /actors/t/nobody-${c}-${i}/x HTTP/1.1\r\nhost: router\r\n\r\n`,
    );
    socket.write(requests.join(""));
    const statuses: Record<string, number> = {};
    let seen = 0;
    let tail = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      const text = tail + chunk;
      const lines = text.split("\r\n");
      tail = lines.pop() ?? "";
      for (const line of lines) {
        const m = line.match(/^HTTP\/1\.1 (\d{3}) /);
        if (!m) continue;
        statuses[m[1] as string] = (statuses[m[1] as string] ?? 0) + 1;
        if (++seen === n) {
          socket.destroy();
          resolve(statuses);
        }
      }
    });
    socket.on("error", reject);
    socket.on("close", () => {
      if (seen < n) reject(new Error(`connection ${c} closed after ${seen} of ${n} answers`));
    });
  });
}
