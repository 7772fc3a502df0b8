// Status lines of Connect error answers, as clients see them on the wire (HTTP/1.1 and HTTP/2).
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { dualProtocolServer } from "../http/index.ts";
import { withContractStatuses } from "./contract-status.ts";

const json = { "content-type": "application/json" };
const error = (code: string) => JSON.stringify({ code, message: `a ${code} error` });

describe("contract statuses", () => {
  const { server, sockets } = dualProtocolServer(
    withContractStatuses((req, res) => {
      const r = res as import("node:http").ServerResponse;
      switch (req.url) {
        case "/ateapi.Control/Precondition": // as Connect writes an error
          r.writeHead(400, json);
          return void r.end(error("failed_precondition"));
        case "/ateapi.Control/WithReason": // a reason phrase that no longer fits
          r.writeHead(400, "Bad Request", json);
          return void r.end(error("not_found"));
        case "/ateapi.Control/StatusCode": // no writeHead at all
          r.statusCode = 400;
          r.statusMessage = "Bad Request";
          return void r.end(error("unavailable"));
        case "/ateapi.Control/Chunks": // written in parts, callbacks kept
          r.writeHead(400, json);
          r.write(error("permission_denied").slice(0, 5), () =>
            r.end(error("permission_denied").slice(5)),
          );
          return;
        case "/ateapi.Control/NotJson":
          r.writeHead(400, { "content-type": "text/plain" });
          return void r.end("plain words");
        default:
          r.writeHead(200, json);
          return void r.end("{}");
      }
    }),
  );
  let port = 0;
  const h1 = (path: string) =>
    new Promise<string>((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () =>
        s.write(
          `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`,
        ),
      );
      let got = "";
      s.setEncoding("latin1");
      s.on("data", (d: string) => {
        got += d;
      });
      s.on("close", () => resolve(got));
      s.on("error", reject);
    });

  before(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  it("rewrites Connect's statuses to the contract's, with matching reason phrases", async () => {
    const precondition = await h1("/ateapi.Control/Precondition");
    assert.match(precondition, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(precondition, /"code":"failed_precondition"/);
    assert.match(await h1("/ateapi.Control/WithReason"), /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(await h1("/ateapi.Control/StatusCode"), /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    const chunks = await h1("/ateapi.Control/Chunks");
    assert.match(chunks, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(chunks, /\{"code":"permission_denied","message":"a permission_denied error"\}/);
    assert.match(await h1("/ateapi.Control/NotJson"), /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(await h1("/ateapi.Control/Fine"), /^HTTP\/1\.1 200 OK\r\n/);
  });

  it("does the same for Connect over HTTP/2, and leaves gRPC alone", async () => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    const status = (path: string, contentType: string) =>
      new Promise<number>((resolve, reject) => {
        const req = client.request({
          ":method": "POST",
          ":path": path,
          "content-type": contentType,
        });
        req.on("response", (h) => resolve(Number(h[":status"])));
        req.on("error", reject);
        req.resume();
        req.end();
      });
    try {
      assert.equal(await status("/ateapi.Control/Precondition", "application/json"), 503);
      assert.equal(await status("/ateapi.Control/Precondition", "application/grpc"), 400);
    } finally {
      client.close();
    }
  });
});
