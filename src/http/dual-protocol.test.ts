// The API port's connection limits, with short timeouts, against raw sockets and a real
// HTTP/2 client: slow or silent clients are cut off, slow answers are not.
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { dualProtocolServer } from "./dual-protocol.ts";

const limits = { headersTimeoutMs: 400, requestTimeoutMs: 800, idleTimeoutMs: 400 };

/** Connects, sends `data`, and resolves with everything received once the server closes. */
function rawExchange(port: number, data: string): Promise<{ got: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, "127.0.0.1", () => {
      if (data) socket.write(data);
    });
    let got = "";
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      got += d;
    });
    socket.on("error", reject);
    socket.on("close", () => resolve({ got, ms: Date.now() - started }));
  });
}

describe("API port connection limits", () => {
  const { server, sockets } = dualProtocolServer((req, res) => {
    if (req.url === "/slow-answer") {
      // The request is whole at once; the answer takes longer than any request timeout.
      setTimeout(() => res.end("late but fine\n"), 2 * limits.requestTimeoutMs);
      return;
    }
    if (req.url === "/body") {
      let n = 0;
      req.on("data", (c: Buffer) => {
        n += c.length;
      });
      req.on("end", () => res.end(`got ${n}\n`));
      return;
    }
    res.end("ok\n");
  }, limits);
  let port = 0;

  before(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  it("answers 408 and closes an HTTP/1.1 request whose headers never end", async () => {
    const { got, ms } = await rawExchange(port, "GET / HTTP/1.1\r\nhost: x\r\n");
    assert.match(got, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.ok(ms < limits.headersTimeoutMs + 1500, `closed after ${ms} ms`);
  });

  it("answers 408 and closes an HTTP/1.1 request whose body never ends", async () => {
    const { got, ms } = await rawExchange(
      port,
      "POST /body HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc",
    );
    assert.match(got, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.ok(ms >= limits.headersTimeoutMs, "the headers were in time");
    assert.ok(ms < limits.requestTimeoutMs + 1500, `closed after ${ms} ms`);
  });

  it("closes a connection that never sends enough to tell its protocol", async () => {
    for (const data of ["", "GE"]) {
      const { got, ms } = await rawExchange(port, data);
      assert.equal(got, "");
      assert.ok(ms < limits.headersTimeoutMs + 1500, `closed after ${ms} ms`);
    }
  });

  it("lets an HTTP/1.1 answer take longer than the request timeout", async () => {
    const { got } = await rawExchange(
      port,
      "GET /slow-answer HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    assert.match(got, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(got, /late but fine/);
  });

  it("answers CONNECT with 405 and the methods it serves", async () => {
    const { got } = await rawExchange(port, "CONNECT example.com:443 HTTP/1.1\r\nhost: x\r\n\r\n");
    assert.match(got, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    assert.match(got, /\r\nallow: GET, POST, PUT, DELETE\r\n/i);
  });

  it("closes an idle HTTP/2 session, and none with a request open", async () => {
    const idle = http2.connect(`http://127.0.0.1:${port}`);
    idle.on("error", () => {});
    const started = Date.now();
    await new Promise((r) => idle.once("close", r));
    const ms = Date.now() - started;
    assert.ok(ms < limits.idleTimeoutMs + 1500, `closed after ${ms} ms`);

    const busy = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = busy.request({ ":path": "/slow-answer" });
        let text = "";
        req.setEncoding("utf8");
        req.on("data", (c: string) => {
          text += c;
        });
        req.on("end", () => resolve(text));
        req.on("error", reject);
        req.end();
      });
      assert.equal(body, "late but fine\n", "longer than the idle and request timeouts");
    } finally {
      busy.close();
    }
  });

  it("resets an HTTP/2 request whose body never ends", async () => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on("error", () => {});
    try {
      const req = client.request({ ":path": "/body", ":method": "POST" });
      req.on("error", () => {});
      req.write("abc"); // and never ends
      const started = Date.now();
      await new Promise((r) => req.once("close", r));
      assert.equal(req.rstCode, http2.constants.NGHTTP2_CANCEL);
      const ms = Date.now() - started;
      assert.ok(ms < limits.requestTimeoutMs + 1500, `reset after ${ms} ms`);
    } finally {
      client.destroy();
    }
  });

  it("answers an HTTP/2 CONNECT with 405", async () => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = client.request({ ":method": "CONNECT", ":authority": "example.com:443" });
        req.on("response", (h) => resolve(Number(h[":status"])));
        req.on("error", reject);
      });
      assert.equal(status, 405);
    } finally {
      client.destroy();
    }
  });
});
