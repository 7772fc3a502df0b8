// The node's actor entry point, on loopback: it tunnels to this node's workers only, and only
// for a caller presenting this node's entry token (compared here, no call leaves the node);
// it bounds what callers may hold open and drops those that send nothing.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { freePort } from "../../test/support/ports.ts";
import { type RunningEntryProxy, startEntryProxy } from "./entry-proxy.ts";
import { nodeEntryToken } from "./entry-token.ts";
import { checkWorkerAddress, isWorkerAddress } from "./worker-address.ts";

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

/** A CONNECT request line and headers. */
const connect = (target: string, auth?: string) =>
  `CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n${auth ? `proxy-authorization: ${auth}\r\n` : ""}\r\n`;

/** Opens a tunnel and keeps it: resolves with the socket once the entry point answered. */
function openTunnel(port: number, request: string): Promise<{ socket: net.Socket; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(request));
    let head = "";
    socket.setEncoding("latin1");
    const onData = (d: string) => {
      head += d;
      if (head.includes("\r\n\r\n")) {
        socket.off("data", onData);
        resolve({ socket, head });
      }
    };
    socket.on("data", onData);
    socket.on("error", reject);
    socket.on("close", () => resolve({ socket, head }));
  });
}

const closed = (s: net.Socket) =>
  s.destroyed ? Promise.resolve() : new Promise<void>((r) => s.once("close", () => r()));

describe("a node's entry token", () => {
  it("is derived one way from the call secret: the same for the same secret, else not", () => {
    const t = nodeEntryToken("call-secret-0123456789abcdef");
    assert.match(t, /^[0-9a-f]{64}$/);
    assert.equal(nodeEntryToken("call-secret-0123456789abcdef"), t);
    assert.notEqual(nodeEntryToken("call-secret-0123456789abcdeF"), t);
    assert.ok(!t.includes("call-secret"));
  });
});

describe("worker addresses a node may report", () => {
  it("are IPv4 literals in 169.254/16 outside the reserved and metadata /24s", () => {
    for (const ok of ["169.254.64.2", "169.254.1.6", "169.254.254.254"])
      assert.equal(isWorkerAddress(ok), true, ok);
    for (const bad of [
      "127.0.0.1",
      "10.0.0.5",
      "192.168.1.1",
      "169.254.169.254",
      "169.254.169.2",
      "169.254.0.2",
      "169.254.255.2",
      "0.0.0.0",
      "::1",
      "::ffff:169.254.64.2",
      "169.254.064.2",
      "localhost",
      "",
    ])
      assert.equal(isWorkerAddress(bad), false, bad);
  });

  it("refuses others naming the node, the worker and the address", () => {
    assert.doesNotThrow(() => checkWorkerAddress("n1", "w-1", "169.254.64.2"));
    assert.throws(
      () => checkWorkerAddress("n1", "w-1", "127.0.0.1"),
      /node n1 reported its worker w-1 at "127\.0\.0\.1": a worker's address must be an IPv4 address in 169\.254\.0\.0\/16/,
    );
  });
});

describe("a node's actor entry point", () => {
  const token = nodeEntryToken("the-node-call-secret-0123456789");
  let port = 0;
  let proxy: RunningEntryProxy;
  let reached = 0;
  const servers: http.Server[] = [];

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
      token,
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

  it("tunnels a caller with the node's entry token to a worker of this node", async () => {
    const got = await exchange(
      entryPort(),
      connect(`127.0.0.2:${port}`, `Bearer ${token}`),
      "GET / HTTP/1.1\r\nhost: w\r\nconnection: close\r\n\r\n",
    );
    assert.match(got, /^HTTP\/1\.1 200 Connection Established\r\n\r\n/);
    assert.match(got, /worker-2$/);
  });

  it("refuses callers without the token, or with any other, before touching a worker", async () => {
    const before = reached;
    const none = await exchange(entryPort(), connect(`127.0.0.2:${port}`));
    assert.match(none, /^HTTP\/1\.1 407 Proxy Authentication Required\r\n/);
    assert.match(none, /\r\nproxy-authenticate: Bearer\r\n/);
    const other = nodeEntryToken("another-node-call-secret-0123456789");
    for (const auth of [
      `Bearer ${other}`, // another node's token
      `Bearer ${token.slice(0, -1)}`, // one character short
      `Bearer ${token}0`, // one too many
      `Bearer ${token.toUpperCase()}`,
      `Bearer ate_r1_${"0".repeat(64)}`, // a router token is nothing here
      `Basic ${Buffer.from(`x:${token}`).toString("base64")}`,
      "Bearer ",
      token,
      `Bearer ${"x".repeat(5000)}`,
    ]) {
      const got = await exchange(entryPort(), connect(`127.0.0.2:${port}`, auth));
      assert.match(got, /^HTTP\/1\.1 40[37] /, auth.slice(0, 80));
    }
    const wrong = await exchange(entryPort(), connect(`127.0.0.2:${port}`, `Bearer ${other}`));
    assert.match(wrong, /^HTTP\/1\.1 403 [\s\S]*read the actor again/);
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
        await exchange(entryPort(), connect(target, `Bearer ${token}`)),
        expected,
        target,
      );
    assert.equal(reached, before, "nothing but the worker is ever reached");
  });

  it("answers a worker that refuses with 502 and a plain request with 405", async () => {
    assert.match(
      await exchange(entryPort(), connect(`127.0.0.4:${port}`, `Bearer ${token}`)),
      /^HTTP\/1\.1 502 .*\r\n[\s\S]*ECONNREFUSED/,
    );
    assert.match(
      await exchange(entryPort(), "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"),
      /^HTTP\/1\.1 405 /,
    );
  });

  it("will not start without a token fit to be one", async () => {
    for (const bad of ["", "short", `${"x".repeat(40)} y`])
      await assert.rejects(
        startEntryProxy({ host: "127.0.0.1", port: 0, workerAddresses: () => [], token: bad }),
        /must be 32 to 512 printable characters/,
      );
  });
});

describe("an entry point's limits", () => {
  const token = nodeEntryToken("limits-call-secret-0123456789");
  let workerPort = 0;
  let proxy: RunningEntryProxy;
  const worker = net.createServer((s) => s.on("data", (d) => s.write(d))); // echoes
  const open: net.Socket[] = [];

  before(async () => {
    workerPort = await freePort();
    await new Promise<void>((r) => worker.listen(workerPort, "127.0.0.2", r));
    proxy = await startEntryProxy({
      host: "127.0.0.1",
      port: 0,
      workerAddresses: () => ["127.0.0.2"],
      token,
      timeoutMs: 300,
      maxTunnels: 2,
      maxConnections: 4,
    });
  });
  after(async () => {
    for (const s of open) s.destroy();
    await proxy.close();
    await new Promise((r) => worker.close(r));
  });
  const entryPort = () => Number(proxy.entry.split(":")[1]);
  const tunnelTo = () => connect(`127.0.0.2:${workerPort}`, `Bearer ${token}`);

  it("answers 503 past maxTunnels, and takes tunnels again once one closes", async () => {
    const a = await openTunnel(entryPort(), tunnelTo());
    const b = await openTunnel(entryPort(), tunnelTo());
    open.push(a.socket, b.socket);
    assert.match(a.head, /^HTTP\/1\.1 200 /);
    assert.match(b.head, /^HTTP\/1\.1 200 /);
    assert.equal(proxy.tunnels, 2);
    const third = await exchange(entryPort(), tunnelTo());
    assert.match(third, /^HTTP\/1\.1 503 [\s\S]*retry-after: 1/);
    // Open tunnels are not idle-timed: they outlive timeoutMs.
    await new Promise((r) => setTimeout(r, 450));
    assert.ok(!a.socket.destroyed && !b.socket.destroyed, "tunnels outlive the caller timeout");
    a.socket.destroy();
    await closed(a.socket);
    for (let i = 0; proxy.tunnels > 1; i++) {
      assert.ok(i < 100, "the closed tunnel is counted out");
      await new Promise((r) => setTimeout(r, 10));
    }
    const again = await openTunnel(entryPort(), tunnelTo());
    open.push(again.socket);
    assert.match(again.head, /^HTTP\/1\.1 200 /);
    b.socket.destroy();
    again.socket.destroy();
    await Promise.all([closed(b.socket), closed(again.socket)]);
    for (let i = 0; proxy.tunnels > 0; i++) {
      assert.ok(i < 100, "every tunnel is counted out");
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  it("closes connections past maxConnections unanswered", async () => {
    const held: net.Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const s = net.connect(entryPort(), "127.0.0.1");
      await new Promise((r) => s.once("connect", r));
      held.push(s);
      open.push(s);
    }
    // Whatever comes back (nothing is expected), the connection is not kept.
    const extra = await new Promise<string>((resolve) => {
      const s = net.connect(entryPort(), "127.0.0.1", () => s.write(tunnelTo()));
      s.setEncoding("latin1");
      s.on("data", (d: string) => {
        resolve(d);
        s.destroy();
      });
      s.on("error", () => {});
      s.on("close", () => resolve(""));
    });
    assert.equal(extra, "", "closed without an answer");
    for (const s of held) s.destroy();
  });

  it("drops a caller that sends nothing, or only part of its CONNECT, within timeoutMs", async () => {
    const started = Date.now();
    const silent = net.connect(entryPort(), "127.0.0.1");
    open.push(silent);
    silent.on("error", () => {});
    const partial = await new Promise<string>((resolve) => {
      const s = net.connect(entryPort(), "127.0.0.1", () =>
        s.write(`CONNECT 127.0.0.2:${workerPort} HTTP/1.1\r\nhost: x\r\n`),
      );
      open.push(s);
      let got = "";
      s.setEncoding("latin1");
      s.on("data", (d: string) => {
        got += d;
      });
      s.on("error", () => {});
      s.on("close", () => resolve(got));
    });
    await closed(silent);
    const took = Date.now() - started;
    assert.match(partial, /^(HTTP\/1\.1 408 |)/, "a partial request may hear 408");
    assert.ok(took < 3000, `dropped after ${took} ms`);
    assert.equal(proxy.tunnels, 0);
  });
});
