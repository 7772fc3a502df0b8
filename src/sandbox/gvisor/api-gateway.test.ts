// A worker's Control API gateway against a stand-in API on loopback: what it passes on, and
// what a hostile sandbox is refused (paths, methods, sizes, rates, calls at once).
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { ApiGateway, type ApiGatewayOptions } from "./api-gateway.ts";

interface Seen {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
  /** Whether the gateway's connection was gone when the API answered. */
  cutOff?: boolean;
}

describe("the Control API gateway", () => {
  let api: Server;
  let target = "";
  const seen: Seen[] = [];
  /** Calls the stand-in API holds until released (to have some under way). */
  let hold: Promise<void> | undefined;
  let answerBytes = 0;

  before(async () => {
    api = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const entry: Seen = {
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(entry);
      await hold;
      entry.cutOff = req.socket.destroyed;
      res.writeHead(200, { "content-type": "application/json", "set-cookie": "x=1" });
      res.end(answerBytes ? "x".repeat(answerBytes) : '{"actor":{"actorId":"alice"}}');
    });
    await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
    target = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => api.close(() => r())));

  const open = (o: Partial<ApiGatewayOptions> = {}) =>
    ApiGateway.open({ address: "127.0.0.1", port: 0, target, ...o });

  /** A raw HTTP/1.1 call, as a sandbox makes it. */
  const call = (
    g: ApiGateway,
    o: { method?: string; path?: string; headers?: Record<string, string>; body?: string },
  ) =>
    new Promise<{ status: number; body: string; headers: IncomingMessage["headers"] }>(
      (resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port: g.port,
            method: o.method ?? "POST",
            path: o.path ?? "/ateapi.Control/GetActor",
            headers: {
              "content-type": "application/json",
              authorization: "Bearer ateact_a_alice_x",
              ...o.headers,
            },
          },
          (res) => {
            let body = "";
            res.on("data", (d) => {
              body += d;
            });
            res.on("end", () =>
              resolve({ status: res.statusCode ?? 0, body, headers: res.headers }),
            );
          },
        );
        req.on("error", reject);
        req.end(o.body ?? "{}");
      },
    );

  it("passes Connect calls on with the credential, and nothing else of the sandbox's headers", async () => {
    const g = await open();
    seen.length = 0;
    const r = await call(g, {
      body: '{"actorRef":{"atespace":"a","name":"alice"}}',
      headers: {
        authorization: "Bearer ateact_a_alice_x",
        "connect-protocol-version": "1",
        cookie: "c=1",
        "x-forwarded-for": "10.0.0.1",
        host: "evil.example",
      },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body, '{"actor":{"actorId":"alice"}}');
    assert.equal(r.headers["set-cookie"], undefined, "only the Connect answer's own headers");
    const got = seen[0] as Seen;
    assert.equal(got.path, "/ateapi.Control/GetActor");
    assert.equal(got.body, '{"actorRef":{"atespace":"a","name":"alice"}}');
    assert.equal(got.headers.authorization, "Bearer ateact_a_alice_x");
    assert.equal(got.headers["connect-protocol-version"], "1");
    assert.equal(got.headers.cookie, undefined);
    assert.equal(got.headers["x-forwarded-for"], undefined);
    assert.notEqual(got.headers.host, "evil.example");
    await g.close();
  });

  it("refuses everything but Connect unary calls, PERMISSION_DENIED, before the API hears of it", async () => {
    const g = await open();
    seen.length = 0;
    for (const [method, path] of [
      ["GET", "/ateapi.Control/GetActor"],
      ["POST", "/apis/ate.dev/v1alpha1/actortemplates"],
      ["POST", "/ate/v1/atespaces/a/actors/alice/logs"],
      ["POST", "/assets/sha256/00"],
      ["POST", "/ateapi.NodeRegistry/Register"],
      ["POST", "/ateapi.Control/../Admin/CreateToken"],
      ["POST", "http://169.254.169.254/latest/meta-data"],
    ] as const) {
      const r = await call(g, { method, path });
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.equal(JSON.parse(r.body).code, "permission_denied");
    }
    // Another kind of token, or none: not through here, whatever it could do at the API.
    for (const authorization of ["Bearer ate_admin_0123", "Basic YTpi", ""]) {
      const r = await call(g, { headers: { authorization } });
      assert.equal(r.status, 403, authorization);
      assert.match(JSON.parse(r.body).message, /takes an actor's own token only/);
    }
    const typed = await call(g, { headers: { "content-type": "application/grpc" } });
    assert.equal(typed.status, 415);
    assert.match(JSON.parse(typed.body).message, /^content-type: Unsupported value/);
    assert.equal(seen.length, 0, "nothing reached the API");
    await g.close();
  });

  it("refuses oversized bodies, declared or streamed, and oversized answers", async () => {
    const g = await open({ maxBodyBytes: 1024, maxResponseBytes: 2048 });
    seen.length = 0;
    const declared = await call(g, { body: "x".repeat(4096) });
    assert.equal(declared.status, 413);
    assert.match(JSON.parse(declared.body).message, /4096 bytes is more than this gateway takes/);
    // Chunked: no length to judge by, cut off as it comes.
    const chunked = await call(g, {
      headers: { "transfer-encoding": "chunked" },
      body: "y".repeat(64 * 1024),
    });
    assert.equal(chunked.status, 413);
    assert.equal(seen.length, 0);
    answerBytes = 4096;
    try {
      const big = await call(g, {});
      assert.equal(big.status, 502);
      assert.match(JSON.parse(big.body).message, /larger than 2048 bytes/);
    } finally {
      answerBytes = 0;
    }
    await g.close();
  });

  it("bounds the call rate and the calls under way", async () => {
    const rated = await open({ ratePerSecond: 0.001, burst: 3 });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(rated, {})).status);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    await rated.close();

    const g = await open({ maxInFlight: 2 });
    let release = () => {};
    hold = new Promise<void>((r) => {
      release = r;
    });
    seen.length = 0;
    const held = [call(g, {}), call(g, {})];
    while (seen.length < 2) await new Promise((r) => setImmediate(r));
    const third = await call(g, {});
    assert.equal(third.status, 429);
    assert.match(JSON.parse(third.body).message, /more than 2 Control API calls/);
    release();
    hold = undefined;
    assert.deepEqual(
      (await Promise.all(held)).map((r) => r.status),
      [200, 200],
    );
    await g.close();
  });

  it("finishes a call whose caller went away (an actor's own suspend)", async () => {
    const g = await open();
    let release = () => {};
    hold = new Promise<void>((r) => {
      release = r;
    });
    seen.length = 0;
    const req = request({
      host: "127.0.0.1",
      port: g.port,
      method: "POST",
      path: "/ateapi.Control/SuspendActor",
      headers: { "content-type": "application/json", authorization: "Bearer ateact_a_alice_x" },
    });
    req.on("error", () => {});
    req.end("{}");
    while (seen.length < 1) await new Promise((r) => setImmediate(r));
    req.destroy(); // the sandbox is checkpointed with the call under way
    // Released once the gateway has seen its caller go (and done whatever it does then).
    while (g.connections > 0) await new Promise((r) => setImmediate(r));
    release();
    hold = undefined;
    // The API answers the held call on a connection the gateway kept: the suspend went on.
    while ((seen[0] as Seen).cutOff === undefined) await new Promise((r) => setImmediate(r));
    assert.equal((seen[0] as Seen).cutOff, false);
    assert.equal((await call(g, {})).status, 200, "the gateway serves on");
    await g.close();
  });

  it("names the address when it cannot listen", async () => {
    const g = await open();
    await assert.rejects(open({ port: g.port }), /could not listen on 127\.0\.0\.1:\d+/);
    await g.close();
  });
});
