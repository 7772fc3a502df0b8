// A router reaching actors through their node's entry point (an HTTP CONNECT proxy), as a
// router on a host without workers does: requests and upgrades go through it with the node's
// entry token, which only the control plane's answers to routers carry; a node that restarts
// has a new token, and routers pick it up at their first refusal without failing a request.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import {
  isWorkerAddress,
  nodeEntryToken,
  type RunningEntryProxy,
  startEntryProxy,
} from "../node/index.ts";
import { Router } from "./router.ts";
import { type RouterTestbed, routerTestbed } from "./testing.ts";

describe("a router through a node's entry point", () => {
  let bed: RouterTestbed;
  let proxy: RunningEntryProxy;
  let entryPort = 0;
  let router: Router;
  const servers: http.Server[] = [];
  let port = 0;

  /** The node's entry point (again, on the same port), taking the token of `callSecret`. */
  const startProxy = async (callSecret: string) => {
    proxy = await startEntryProxy({
      host: "127.0.0.1",
      port: entryPort,
      workerAddresses: async () => (await bed.agent.listWorkers()).map((w) => w.address),
      token: nodeEntryToken(callSecret),
    });
    entryPort = Number(proxy.entry.split(":")[1]);
  };
  const get = (actor: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port, path: `/actors/t/${actor}/x`, agent: false },
        (res) => {
          let body = "";
          res.on("data", (c) => {
            body += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end();
    });
  const upgrade = () =>
    new Promise<string>((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () =>
        s.write(
          "GET /actors/t/ws/socket HTTP/1.1\r\nhost: x\r\nupgrade: x\r\nconnection: upgrade\r\n\r\nping",
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
      s.on("close", () => resolve(got));
      s.on("error", reject);
    });

  before(async () => {
    bed = await routerTestbed((id) => (_req, res) => res.end(id));
    await startProxy("first-call-secret-0123456789");
    await bed.routeThrough(proxy.entry, "first-call-secret-0123456789");
    for (const id of ["a", "ws"]) await bed.add(id);
    router = new Router({ backend: bed.backend(), queueWaitMs: 500 });
    router.start();
    const server = http.createServer(router.handle);
    server.on("upgrade", router.handleUpgrade);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    await router.stop();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await proxy.close();
    await bed.close();
  });

  it("forwards requests through the entry point with the node's token from the control plane", async () => {
    assert.deepEqual(await get("a"), { status: 200, body: "a" });
    assert.deepEqual(await get("a"), { status: 200, body: "a" });
    assert.equal(proxy.tunnels, 1, "one tunnel, kept alive for both requests");
  });

  it("passes an upgrade through the entry point", async () => {
    await get("ws");
    const target = [...bed.agent.servers.values()].find((s) => s.actor === "ws")
      ?.server as http.Server;
    target.on("upgrade", (_req, socket: net.Socket, head: Buffer) => {
      socket.write("HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\nconnection: upgrade\r\n\r\n");
      if (head.length) socket.write(head);
      socket.pipe(socket);
    });
    assert.match(await upgrade(), /^HTTP\/1.1 101 Switching Protocols/);
  });

  it("after the node restarts (a new token), reads the actor again and serves, failing nothing", async () => {
    const reads = () => (bed.calls.ResumeActor ?? 0) + (bed.calls.GetActor ?? 0);
    const restart = async (callSecret: string) => {
      await proxy.close(); // its tunnels go with it
      await startProxy(callSecret);
      await bed.routeThrough(proxy.entry, callSecret);
    };
    await restart("second-call-secret-0123456789");
    let asked = reads();
    assert.deepEqual(await get("a"), { status: 200, body: "a" });
    assert.equal(reads() - asked, 1, "one read of the actor, for the fresh token");
    assert.deepEqual(await get("a"), { status: 200, body: "a" }, "and it is kept");
    assert.equal(reads() - asked, 1);

    await restart("third-call-secret-0123456789");
    asked = reads();
    assert.match(await upgrade(), /^HTTP\/1.1 101 Switching Protocols/, "an upgrade, too");
    assert.equal(reads() - asked, 1);
  });

  it("fails a request (502) when even the fresh token is refused, after one retry", async () => {
    await proxy.close();
    await startProxy("a-secret-the-control-plane-never-heard-of");
    const asked = (bed.calls.ResumeActor ?? 0) + (bed.calls.GetActor ?? 0);
    const r = await get("a");
    assert.equal(r.status, 502);
    assert.match(r.body, /did not answer/);
    assert.equal((bed.calls.ResumeActor ?? 0) + (bed.calls.GetActor ?? 0) - asked, 1);
    await proxy.close();
    await startProxy("third-call-secret-0123456789"); // back as it was, for after()
  });
});

describe("a router connecting to workers directly", () => {
  let bed: RouterTestbed;
  const routers: Router[] = [];
  const servers: http.Server[] = [];
  const ports: number[] = [];
  const get = (router: number, actor: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      http
        .get(
          { host: "127.0.0.1", port: ports[router], path: `/actors/t/${actor}/x`, agent: false },
          (res) => {
            let body = "";
            res.on("data", (c) => {
              body += c;
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          },
        )
        .on("error", reject);
    });

  before(async () => {
    bed = await routerTestbed((id) => (_req, res) => res.end(id));
    await bed.add("a");
    // The test's workers are on loopback: the first router may reach them (as the testbed
    // allows), the second keeps the default (ate's worker range only).
    for (const backend of [bed.backend(), bed.backend({ directAllowed: isWorkerAddress })]) {
      const router = new Router({ backend, queueWaitMs: 500 });
      router.start();
      routers.push(router);
      const server = http.createServer(router.handle);
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      ports.push((server.address() as net.AddressInfo).port);
    }
  });
  after(async () => {
    for (const r of routers) await r.stop();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await bed.close();
  });

  it("never connects to an address outside ate's worker range, whatever the records say", async () => {
    assert.deepEqual(await get(0, "a"), { status: 200, body: "a" });
    const before = bed.agent.servers.size;
    const r = await get(1, "a");
    assert.equal(r.status, 503);
    assert.match(
      r.body,
      /actor t\/a: its worker w-p-\d+ is at "127\.0\.0\.\d+", which is not an address this router connects to directly, and its node has no entry point/,
    );
    assert.equal(bed.agent.servers.size, before);
  });
});
