// The router's port as `ate up` serves it, with short timeouts: half-sent requests are cut
// off, while proxied streams (server-sent events, WebSocket tunnels, long answers) keep going.
import assert from "node:assert/strict";
import type http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { Router } from "../router/index.ts";
import { type RouterTestbed, routerTestbed } from "../router/testing.ts";
import { listen } from "./listen.ts";

const timeouts = { headersTimeoutMs: 400, requestTimeoutMs: 800 };
const longer = 2 * timeouts.requestTimeoutMs;

/** Connects, sends `data`, and resolves with everything received once the server closes. */
function rawExchange(port: number, data: string): Promise<{ got: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, "127.0.0.1", () => socket.write(data));
    let got = "";
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      got += d;
    });
    socket.on("error", reject);
    socket.on("close", () => resolve({ got, ms: Date.now() - started }));
  });
}

describe("router port", () => {
  const app =
    (id: string): http.RequestListener =>
    (req, res) => {
      if (req.url === "/events") {
        // Server-sent events for longer than any request timeout.
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write("data: one\n\n");
        setTimeout(() => res.end("data: two\n\n"), longer);
        return;
      }
      if (req.url === "/body") {
        req.resume();
        return void req.on("end", () => res.end("whole body\n"));
      }
      if (req.url === "/slow") return void setTimeout(() => res.end(`${id} late\n`), longer);
      res.end(id);
    };
  let bed: RouterTestbed;
  let router: Router;
  let served: Awaited<ReturnType<typeof listen>>;
  let port = 0;

  before(async () => {
    bed = await routerTestbed(app, { p: 5, small: 1 });
    for (const id of ["a", "ws", "gone"]) await bed.add(id);
    for (const id of ["busy", "waits"]) await bed.add(id, { pool: "small" });
    router = new Router({ backend: bed.backend(), queueWaitMs: 300 });
    router.start();
    served = await listen(
      { host: "127.0.0.1", port: 0 },
      router.handle,
      router.handleUpgrade,
      timeouts,
    );
    port = Number(new URL(served.url).port);
  });
  after(async () => {
    await router.stop();
    await served.close();
    await bed.close();
  });

  it("answers 408 and closes requests whose headers or body never end", async () => {
    const headers = await rawExchange(port, "GET /actors/t/a/x HTTP/1.1\r\nhost: x\r\n");
    assert.match(headers.got, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.ok(headers.ms < timeouts.headersTimeoutMs + 1500, `closed after ${headers.ms} ms`);
    const body = await rawExchange(
      port,
      "POST /actors/t/a/body HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc",
    );
    assert.match(body.got, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.ok(body.ms < timeouts.requestTimeoutMs + 1500, `closed after ${body.ms} ms`);
  });

  it("keeps proxying long answers and server-sent events past the request timeout", async () => {
    const slow = await rawExchange(
      port,
      "GET /actors/t/a/slow HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    assert.match(slow.got, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(slow.got, /a late\n$/);
    const events = await rawExchange(
      port,
      "GET /actors/t/a/events HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\nconnection: close\r\n\r\n",
    );
    assert.match(events.got, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(events.got, /data: one\n\n[\s\S]*data: two\n\n/);
    assert.ok(events.ms >= longer);
  });

  it("keeps a WebSocket tunnel open past the request timeout", async () => {
    assert.equal(
      (
        await rawExchange(
          port,
          "GET /actors/t/ws/x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
      ).got.endsWith("ws"),
      true,
    );
    const target = [...bed.agent.servers.values()].find((s) => s.actor === "ws")
      ?.server as http.Server;
    target.on("upgrade", (_req, socket: net.Socket, head: Buffer) => {
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
      );
      socket.write(head);
      socket.pipe(socket);
    });
    const socket = net.connect(port, "127.0.0.1");
    socket.setEncoding("latin1");
    let got = "";
    const received = (text: string) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!got.includes(text)) return;
          socket.off("data", onData);
          resolve();
        };
        const onData = (d: string) => {
          got += d;
          check();
        };
        socket.on("data", onData);
        const closed = () => reject(new Error(`closed before "${text}": ${got}`));
        if (socket.closed) closed();
        socket.once("close", closed);
        check();
      });
    try {
      socket.write(
        "GET /actors/t/ws/socket HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\nping",
      );
      await received("ping");
      // Quiet for longer than both timeouts (a clock, not a guess: the limits are what we test).
      await new Promise((r) => setTimeout(r, longer));
      socket.write("pong");
      await received("pong");
      assert.match(got, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    } finally {
      socket.destroy();
    }
  });

  it("answers CONNECT with 405 and an Allow header", async () => {
    const { got } = await rawExchange(port, "CONNECT example.com:443 HTTP/1.1\r\nhost: x\r\n\r\n");
    assert.match(got, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    assert.match(got, /\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n/);
  });

  it("answers failed upgrades with matching status lines", async () => {
    const upgrade = (path: string, host = "x") =>
      rawExchange(
        port,
        `GET ${path} HTTP/1.1\r\nhost: ${host}\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n`,
      );
    const unknown = await upgrade("/actors/t/nobody/socket");
    assert.match(unknown.got, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(unknown.got, /actor t\/nobody not found/);
    assert.match((await upgrade("/elsewhere")).got, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match((await upgrade("/actors/t/a/../x")).got, /^HTTP\/1\.1 400 Bad Request\r\n/);
    // The one worker of pool "small" is taken.
    await bed.cp.resumeActor({ atespace: "t", name: "busy" });
    const full = await upgrade("/actors/t/waits/socket");
    assert.match(full.got, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(full.got, /\r\nretry-after: 5\r\n/);
    // The actor's worker stopped answering behind the router's back.
    await rawExchange(
      port,
      "GET /actors/t/gone/x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    await bed.agent.vanish("gone");
    assert.match((await upgrade("/actors/t/gone/socket")).got, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
  });
});
