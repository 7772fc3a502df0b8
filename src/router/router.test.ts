import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { Router } from "./router.ts";
import { type RouterTestbed, routerTestbed } from "./testing.ts";

describe("router", () => {
  const counters = new Map<string, number>();
  const app =
    (id: string): http.RequestListener =>
    (req, res) => {
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
    };
  let bed: RouterTestbed;
  let router: Router;
  const server = http.createServer((req, res) => router.handle(req, res));
  server.on("upgrade", (req, socket, head) =>
    router.handleUpgrade(req, socket as net.Socket, head),
  );
  let port = 0;
  const controlCalls = () => (bed.calls.GetActor ?? 0) + (bed.calls.ResumeActor ?? 0);
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
    // A router whose watch is held keeps suspends waiting for it: not long, here.
    bed = await routerTestbed(app, { p: 5, small: 1 }, { drainTimeoutMs: 500 });
    for (const id of ["a", "b", "c", "ws"]) await bed.add(id);
    await bed.add("d", { pool: "small" });
    await bed.add("busy", { pool: "small" });
    await bed.add("idle1", { idleSeconds: 1 });
    router = new Router({ backend: bed.backend(), queueWaitMs: 500, reportIntervalMs: 100 });
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
    const before = controlCalls();
    for (let i = 0; i < 5; i++) await get("/actors/t/a/x");
    assert.equal(controlCalls(), before);
  });

  it("coalesces 50 concurrent requests to a suspended actor into one resume", async () => {
    const resumes = bed.calls.ResumeActor ?? 0;
    const version = (await bed.records.getActor("t", "b")).version;
    const all = await Promise.all(Array.from({ length: 50 }, () => get("/actors/t/b/x")));
    assert.ok(all.every((r) => r.status === 200));
    assert.equal((bed.calls.ResumeActor ?? 0) - resumes, 1);
    assert.equal((await bed.records.getActor("t", "b")).version - version, 2, "RESUMING, RUNNING");
    assert.equal(counters.get("b"), 50);
  });

  it("finds an actor again when its cached worker refuses connections", async () => {
    await get("/actors/t/c/x");
    // The actor moves while the router hears nothing (its watch held): its old server is gone.
    const release = bed.holdWatches();
    try {
      await bed.cp.suspendActor({ atespace: "t", name: "c" });
      await bed.cp.resumeActor({ atespace: "t", name: "c" });
      const r = await get("/actors/t/c/x");
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).id, "c");
    } finally {
      release();
    }
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
    const target = [...bed.agent.servers.values()].find((s) => s.actor === "ws")
      ?.server as http.Server;
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
    // The one worker of pool "small" is taken, and nothing makes room (no activity controller).
    await bed.cp.resumeActor({ atespace: "t", name: "busy" });
    const r = await get("/actors/t/d/x");
    assert.equal(r.status, 503);
    assert.equal(r.headers["retry-after"], "5");
    assert.match(r.body, /actor t\/d: no free worker after/);
  });

  it("has its actor suspended once idle past its template's timeout; the next request resumes it", async () => {
    const activity = bed.startActivity({ idleTimeoutMs: 0 });
    await get("/actors/t/idle1/x");
    for (let i = 0; (await bed.status("idle1")) !== "SUSPENDED"; i++) {
      assert.ok(i < 100, "suspended within 5 s");
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(JSON.parse((await get("/actors/t/idle1/x")).body).n, 2);
    assert.equal(await bed.status("a"), "RUNNING", "no idle timeout: a keeps running");
    void activity;
  });

  it("answers bad addresses with 4xx and unknown actors with 404", async () => {
    assert.equal((await get("/", "example.com")).status, 404);
    assert.equal((await get("/actors/t/a/../../x")).status, 400);
    const unknown = await get("/actors/t/nobody/x");
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /actor t\/nobody not found/);
    const metrics = await get("/metrics");
    assert.match(metrics.body, /ate_router_requests_total\{outcome="forwarded"\} \d+/);
    assert.match(metrics.body, /^ate_router_activation_seconds_count [1-9]\d*$/m);
    assert.match(metrics.body, /^# TYPE ate_router_activation_seconds histogram$/m);
    assert.match(metrics.body, /^# TYPE ate_router_queue_depth gauge$/m);
    assert.match(metrics.body, /^ate_router_watch_live 1$/m);
  });
});
