// Bounded inputs at the API server: body sizes (also after decompression), JSON depth and
// malformed paths, against a real server over HTTP/1.1 and HTTP/2.
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { auth, startTestApi, type TestApi } from "../../test/support/api-server.ts";
import { sandboxConfig } from "../api/testing.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { checkJsonDepth } from "./request-body.ts";

const MiB = 1024 * 1024;

/**
 * A gzip body that inflates to `mib` MiB of spaces (valid JSON whitespace) after `head`:
 * one compressed MiB repeated as gzip members, so the test itself never holds the expansion.
 */
function gzipBomb(head: string, mib: number): Buffer {
  const member = gzipSync(Buffer.alloc(MiB, " "));
  return Buffer.concat([gzipSync(head), ...Array.from({ length: mib }, () => member)]);
}

/** Resident memory after a collection, when the test runs with --expose-gc (else as is). */
function rss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

describe("API input limits", () => {
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const cp = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({}) });
  let api: TestApi;

  /** A raw HTTP/1.1 request: the status as soon as it comes, the body optional. */
  const raw = (
    path: string,
    headers: Record<string, string | number>,
    send: (req: http.ClientRequest) => void,
  ) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${api.url}${path}`, {
        method: "POST",
        agent: false,
        headers: { ...auth(api.adminToken), ...headers },
      });
      let answered = false;
      req.on("response", (res) => {
        answered = true;
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", (err: NodeJS.ErrnoException) => {
        // The server answers and closes while the body is still being written: its answer is
        // what counts (a write that meets the closed socket is expected); a close without one
        // fails below.
        if (err.code !== "EPIPE" && err.code !== "ECONNRESET") reject(err);
      });
      req.on("close", () => {
        if (!answered) reject(new Error(`${path}: the connection closed without an answer`));
      });
      send(req);
    });

  before(async () => {
    api = await startTestApi({ controlPlane: cp, resources });
  });
  after(async () => {
    await api.close();
    await resources.close();
    await records.store.close();
  });

  it("refuses JSON nested deeper than 64 levels with 400, before parsing it", async () => {
    const deep = `{"a":${"[".repeat(10_000)}${"]".repeat(10_000)}}`;
    const res = await fetch(`${api.url}/apis/ate.dev/v1alpha1/sandboxconfigs`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth(api.adminToken) },
      body: deep,
    });
    assert.equal(res.status, 400);
    assert.match(
      ((await res.json()) as { message: string }).message,
      /request body nests deeper than 64 levels/,
    );
    // Brackets in strings do not count; 64 levels pass.
    checkJsonDepth(Buffer.from(`{"s":"${"[".repeat(100)}\\"${"{".repeat(100)}"}`), 64);
    checkJsonDepth(Buffer.from(`${"[".repeat(64)}${"]".repeat(64)}`), 64);
    assert.throws(() => checkJsonDepth(Buffer.from("[".repeat(65)), 64), /deeper than 64/);
  });

  it("answers a malformed percent-encoding in a path with 400 naming the segment", async () => {
    for (const path of [
      "/apis/ate.dev/v1alpha1/namespaces/%zz/workerpools",
      "/ate/v1/atespaces/default/actors/a%zz/logs",
    ]) {
      const res = await fetch(`${api.url}${path}`, { headers: auth(api.adminToken) });
      assert.equal(res.status, 400, path);
      assert.match(
        ((await res.json()) as { message: string }).message,
        /path segment "(%zz|a%zz)" is not valid percent-encoding/,
      );
    }
  });

  it("refuses a REST body over 4 MiB with 413 without reading the rest", async () => {
    // Declared too large: answered before the body is sent at all.
    const declared = await raw(
      "/apis/ate.dev/v1alpha1/sandboxconfigs",
      { "content-type": "application/json", "content-length": 5 * MiB },
      (req) => req.flushHeaders(),
    );
    assert.equal(declared.status, 413);
    assert.equal(JSON.parse(declared.body).code, "resource_exhausted");
    // Chunked: refused once 4 MiB have come, while the client still has more to send.
    const chunked = await raw(
      "/apis/ate.dev/v1alpha1/sandboxconfigs",
      { "content-type": "application/json", "transfer-encoding": "chunked" },
      (req) => {
        const chunk = Buffer.alloc(MiB, " ");
        let sent = 0;
        const more = () => {
          while (sent < 64 && !req.destroyed) {
            sent++;
            if (!req.write(chunk)) return void req.once("drain", more);
          }
        };
        req.on("error", () => {}); // the server closes while we still write
        more();
      },
    );
    assert.equal(chunked.status, 413);
    // A normal object still goes through.
    const ok = await fetch(`${api.url}/apis/ate.dev/v1alpha1/sandboxconfigs`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth(api.adminToken) },
      body: JSON.stringify(sandboxConfig("fine")),
    });
    assert.equal(ok.status, 201);
  });

  it("refuses Connect bodies over 4 MiB, compressed or not, without inflating a gzip bomb", async () => {
    const big = await fetch(`${api.url}/ateapi.Control/ListAtespaces`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth(api.adminToken) },
      body: `{}${" ".repeat(5 * MiB)}`,
    });
    assert.equal(((await big.json()) as { code: string }).code, "resource_exhausted");
    assert.ok(big.status === 413 || big.status === 429, `status ${big.status}`);

    const bomb = gzipBomb("{}", 200);
    assert.ok(bomb.length < 2 * MiB, "the bomb is small on the wire");
    const before = rss();
    const res = await fetch(`${api.url}/ateapi.Control/ListAtespaces`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "content-encoding": "gzip",
        ...auth(api.adminToken),
      },
      body: bomb,
    });
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(body.code, "resource_exhausted");
    assert.match(body.message, /larger than configured readMaxBytes 4194304 after decompression/);
    const grown = (rss() - before) / MiB;
    assert.ok(grown < 100, `RSS grew by ${grown.toFixed(0)} MiB for a 200 MiB expansion`);
  });

  it("refuses a gzip-bombed gRPC message with RESOURCE_EXHAUSTED", async () => {
    const payload = gzipBomb("", 200);
    const envelope = Buffer.alloc(5);
    envelope.writeUInt8(1, 0); // compressed
    envelope.writeUInt32BE(payload.length, 1);
    const session = http2.connect(api.url);
    try {
      const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": "/ateapi.Control/ListAtespaces",
          "content-type": "application/grpc",
          "grpc-encoding": "gzip",
          te: "trailers",
          ...auth(api.adminToken),
        });
        let headers: http2.IncomingHttpHeaders = {};
        stream.on("response", (h) => {
          headers = h;
        });
        stream.on("trailers", (t) => resolve(t));
        stream.on("end", () => resolve(headers)); // trailers-only responses
        stream.on("error", reject);
        stream.resume();
        stream.end(Buffer.concat([envelope, payload]));
      });
      assert.equal(trailers["grpc-status"], "8", JSON.stringify(trailers));
    } finally {
      session.close();
    }
  });
});
