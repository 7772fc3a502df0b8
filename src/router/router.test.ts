import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { Router } from "./router.ts";
import { FakeBackend } from "./testing.ts";

describe("router", () => {
  const counters = new Map<string, number>();
  const backend = new FakeBackend((id) => (req, res) => {
    if (req.url === "/events") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: one\n\n");
      setTimeout(() => res.end("data: two\n\n"), 100);
      return;
    }
    if (req.url === "/echo-body") return void req.pipe(res);
    const n = (counters.get(id) ?? 0) + 1;
    counters.set(id, n);
    res.end(JSON.stringify({ id, n, path: req.url, host: req.headers["x-forwarded-host"] }));
  });
  const router = new Router({ backend, queueWaitMs: 500, idleTimeoutMs: 0, evictIdle: false });
  const server = http.createServer(router.handle);
  server.on("upgrade", router.handleUpgrade);
  let port = 0;
  const get = (path: string, host = "localhost", headers: Record<string, string> = {}) =>
    new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>(
      (resolve, reject) => {
        const req = http.request(
          { host: "127.0.0.1", port, path, headers: { host, ...headers }, agent: false },
          (res) => {
            let body = "";
            res.on("data", (c) => {
              body += c;
            });
            res.on("end", () =>
              resolve({ status: res.statusCode ?? 0, body, headers: res.headers }),
            );
          },
        );
        req.on("error", reject);
        req.end();
      },
    );

  before(async () => {
    for (const id of ["a", "b", "c", "d", "idle1", "ws"]) backend.add(id);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    router.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await backend.close();
  });

  it("resumes a suspended actor on the first request and forwards by Host or path", async () => {
    const r = await get("/count?x=1", "a.t.actors.resources.substrate.ate.dev");
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), {
      id: "a",
      n: 1,
      path: "/count?x=1",
      host: "a.t.actors.resources.substrate.ate.dev",
    });
    assert.deepEqual(JSON.parse((await get("/actors/t/a/count")).body).n, 2);
  });

  it("serves a running actor from its route cache, without asking the control plane", async () => {
    const before = backend.calls.get;
    for (let i = 0; i < 5; i++) await get("/actors/t/a/x");
    assert.equal(backend.calls.get, before);
  });

  it("coalesces 50 concurrent requests to a suspended actor into one resume", async () => {
    const resumes = backend.calls.resume;
    const all = await Promise.all(Array.from({ length: 50 }, () => get("/actors/t/b/x")));
    assert.ok(all.every((r) => r.status === 200));
    assert.equal(backend.calls.resume - resumes, 1);
    assert.equal(counters.get("b"), 50);
  });

  it("finds an actor again when its cached worker refuses connections", async () => {
    await get("/actors/t/c/x");
    // The actor moved behind the router's back: its old server is gone.
    await backend.vanish("c");
    const r = await get("/actors/t/c/x");
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).id, "c");
  });

  it("streams server-sent events and bodies, and passes WebSocket upgrades through", async () => {
    const sse = await get("/actors/t/a/events", "localhost", { accept: "text/event-stream" });
    assert.equal(sse.body, "data: one\n\ndata: two\n\n");
    const echoed = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port, path: "/actors/t/a/echo-body", method: "POST", agent: false },
        (res) => {
          let body = "";
          res.on("data", (c) => {
            body += c;
          });
          res.on("end", () => resolve(body));
        },
      );
      req.on("error", reject);
      req.end("x".repeat(1_000_000));
    });
    assert.equal(echoed.length, 1_000_000);
    // A raw upgrade: the fake worker answers 101 and echoes bytes.
    await get("/actors/t/ws/x");
    const target = backend.servers.get("ws") as http.Server;
    target.on("upgrade", (_req, socket: net.Socket, head: Buffer) => {
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
      );
      if (head.length) socket.write(head);
      socket.pipe(socket);
    });
    const reply = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () =>
        s.write(
          "GET /actors/t/ws/socket HTTP/1.1\r\nhost: localhost\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\nping",
        ),
      );
      let got = "";
      s.on("data", (d) => {
        got += d;
        if (got.includes("ping")) {
          s.destroy();
          resolve(got);
        }
      });
      s.on("error", reject);
    });
    assert.match(reply, /^HTTP\/1.1 101 Switching Protocols/);
    assert.match(reply, /ping$/);
  });

  it("queues while no worker is free, then answers 503 with Retry-After", async () => {
    backend.full = true;
    const r = await get("/actors/t/d/x");
    backend.full = false;
    assert.equal(r.status, 503);
    assert.equal(r.headers["retry-after"], "5");
    assert.match(r.body, /actor t\/d: no free worker after/);
  });

  it("suspends an actor idle past its timeout; the next request resumes it", async () => {
    router.start();
    await get("/actors/t/idle1/x");
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(backend.actors.get("idle1")?.status, "SUSPENDED");
    assert.equal(JSON.parse((await get("/actors/t/idle1/x")).body).n, 2);
  });

  it("answers bad addresses with 4xx and unknown actors with 404", async () => {
    assert.equal((await get("/", "example.com")).status, 404);
    assert.equal((await get("/actors/t/a/../../x")).status, 400);
    const unknown = await get("/actors/t/nobody/x");
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /actor t\/nobody not found/);
    const metrics = await get("/metrics");
    assert.match(metrics.body, /ate_router_requests_total\{outcome="forwarded"\} \d+/);
    assert.match(metrics.body, /ate_router_resume_seconds_count \d+/);
  });
});
