// The node's actor entry point, on loopback: it tunnels to this node's workers only, and only
// for a caller with an accepted secret; router tokens are checked against a real API server.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { startTestApi, type TestApi } from "../../test/support/api-server.ts";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { freePort } from "../../test/support/ports.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { type RunningEntryProxy, routerTokenCheck, startEntryProxy } from "./entry-proxy.ts";

/** Sends a raw request; resolves with everything received until the first answer's end or close. */
function exchange(port: number, request: string, then?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(request));
    let got = "";
    let sent = false;
    s.setEncoding("latin1");
    s.on("data", (d: string) => {
      got += d;
      if (then && !sent && got.includes("\r\n\r\n")) {
        sent = true;
        if (got.startsWith("HTTP/1.1 200")) s.write(then);
      }
      if (then && sent && /\r\n\r\n[\s\S]*\r\n\r\n[\s\S]*worker-2/.test(got)) s.destroy();
    });
    s.on("error", reject);
    s.on("close", () => resolve(got));
  });
}

describe("a node's actor entry point", () => {
  let port = 0;
  let proxy: RunningEntryProxy;
  let reached = 0;
  const servers: http.Server[] = [];
  let authorizeFails = false;

  before(async () => {
    port = await freePort();
    // A worker at 127.0.0.2, and a server at 127.0.0.3 that is no worker of this node.
    for (const address of ["127.0.0.2", "127.0.0.3"]) {
      const server = http.createServer((_req, res) => {
        reached++;
        res.end(address === "127.0.0.2" ? "worker-2" : "not a worker");
      });
      await new Promise<void>((r) => server.listen(port, address, r));
      servers.push(server);
    }
    proxy = await startEntryProxy({
      host: "127.0.0.1",
      port: 0,
      workerAddresses: () => ["127.0.0.2", "127.0.0.4"],
      authorize: async (secret) => {
        if (authorizeFails) throw new Error("control plane away");
        return secret === "good-secret";
      },
      allowPort: (p) => p !== 22,
    });
  });
  after(async () => {
    await proxy.close();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  const entryPort = () => Number(proxy.entry.split(":")[1]);
  const connect = (target: string, auth?: string) =>
    `CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n${auth ? `proxy-authorization: ${auth}\r\n` : ""}\r\n`;

  it("tunnels a router with an accepted secret to a worker of this node", async () => {
    const got = await exchange(
      entryPort(),
      connect(`127.0.0.2:${port}`, "Bearer good-secret"),
      "GET / HTTP/1.1\r\nhost: w\r\nconnection: close\r\n\r\n",
    );
    assert.match(got, /^HTTP\/1\.1 200 Connection Established\r\n\r\n/);
    assert.match(got, /worker-2$/);
  });

  it("refuses callers without a secret, or with a wrong one, before touching a worker", async () => {
    const before = reached;
    const none = await exchange(entryPort(), connect(`127.0.0.2:${port}`));
    assert.match(none, /^HTTP\/1\.1 407 Proxy Authentication Required\r\n/);
    assert.match(none, /\r\nproxy-authenticate: Bearer\r\n/);
    for (const auth of ["Bearer wrong", "Basic Z29vZC1zZWNyZXQ=", "Bearer ", "good-secret"]) {
      const got = await exchange(entryPort(), connect(`127.0.0.2:${port}`, auth));
      assert.match(got, /^HTTP\/1\.1 40[37] /, auth);
    }
    assert.equal(reached, before, "no worker was reached");
  });

  it("refuses addresses that are not this node's workers, names, and odd targets", async () => {
    const before = reached;
    const cases: [string, RegExp][] = [
      [`127.0.0.3:${port}`, /^HTTP\/1\.1 403 .*\r\n[\s\S]*127\.0\.0\.3 is not a worker/],
      [`127.0.0.1:${port}`, /^HTTP\/1\.1 403 /],
      [`169.254.169.254:80`, /^HTTP\/1\.1 403 /],
      [`localhost:${port}`, /^HTTP\/1\.1 400 /],
      [`[::1]:${port}`, /^HTTP\/1\.1 400 /],
      [`127.0.0.2:0`, /^HTTP\/1\.1 400 /],
      [`127.0.0.2:99999`, /^HTTP\/1\.1 400 /],
      [`127.0.0.2:22`, /^HTTP\/1\.1 403 /],
      [`127.0.0.002:${port}`, /^HTTP\/1\.1 400 /],
      [`127.0.0.2:${port}/x`, /^HTTP\/1\.1 400 /],
    ];
    for (const [target, expected] of cases)
      assert.match(
        await exchange(entryPort(), connect(target, "Bearer good-secret")),
        expected,
        target,
      );
    assert.equal(reached, before, "nothing but the worker is ever reached");
  });

  it("answers a worker that refuses with 502, a plain request with 405, an absent checker with 503", async () => {
    assert.match(
      await exchange(entryPort(), connect(`127.0.0.4:${port}`, "Bearer good-secret")),
      /^HTTP\/1\.1 502 .*\r\n[\s\S]*ECONNREFUSED/,
    );
    assert.match(
      await exchange(entryPort(), "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"),
      /^HTTP\/1\.1 405 /,
    );
    authorizeFails = true;
    try {
      assert.match(
        await exchange(entryPort(), connect(`127.0.0.2:${port}`, "Bearer good-secret")),
        /^HTTP\/1\.1 503 /,
      );
    } finally {
      authorizeFails = false;
    }
  });
});

describe("router token checks against the control plane", () => {
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: new NoopNodeAgent() }),
  });
  let api: TestApi;
  before(async () => {
    api = await startTestApi({ controlPlane: cp, resources });
    await cp.createAtespace("t");
  });
  after(async () => {
    await api.close();
    await records.store.close();
    await resources.close();
  });

  it("accepts router and admin tokens only", async () => {
    const check = routerTokenCheck({ apiUrl: api.url });
    const { text: router } = await api.tokens.create({ name: "r1", role: "router" });
    const { text: node } = await api.tokens.create({ name: "n1", role: "node" });
    const tenant = await api.tenantToken("tenant", "t");
    assert.equal(await check(router), true);
    assert.equal(await check(api.adminToken), true);
    assert.equal(await check(node), false);
    assert.equal(await check(tenant), false);
    assert.equal(await check(`${router.slice(0, -2)}00`), false, "a forged secret");
    assert.equal(await check("garbage"), false);
  });

  it("fails with no verdict when the control plane cannot answer", async () => {
    const check = routerTokenCheck({ apiUrl: `http://127.0.0.1:${await freePort()}` });
    await assert.rejects(check(`ate_r1_${"0".repeat(64)}`));
    // What is not even shaped like a token is refused without asking anyone.
    assert.equal(await check("ate_r1_whatever"), false);
  });
});
