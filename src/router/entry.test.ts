// A router reaching actors through their node's entry point (an HTTP CONNECT proxy), as a
// router on a host without workers does: requests and upgrades go through it, with the
// router's secret; a router without the right secret reaches nothing.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { type RunningEntryProxy, startEntryProxy } from "../node/index.ts";
import { Router } from "./router.ts";
import { type RouterTestbed, routerTestbed } from "./testing.ts";

describe("a router through a node's entry point", () => {
  let bed: RouterTestbed;
  let proxy: RunningEntryProxy;
  let tunnels = 0;
  const routers: Router[] = [];
  const servers: http.Server[] = [];
  const ports: number[] = [];
  const get = (router: number, actor: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port: ports[router], path: `/actors/t/${actor}/x`, agent: false },
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

  before(async () => {
    bed = await routerTestbed((id) => (_req, res) => res.end(id));
    proxy = await startEntryProxy({
      host: "127.0.0.1",
      port: 0,
      workerAddresses: async () => (await bed.agent.listWorkers()).map((w) => w.address),
      authorize: async (secret) => {
        tunnels++;
        return secret === "router-token";
      },
    });
    await bed.routeThrough(proxy.entry);
    for (const id of ["a", "ws"]) await bed.add(id);
    for (const secret of ["router-token", "stolen-guess"]) {
      const router = new Router({
        backend: bed.backend({ entrySecret: secret }),
        queueWaitMs: 500,
      });
      router.start();
      routers.push(router);
      const server = http.createServer(router.handle);
      server.on("upgrade", router.handleUpgrade);
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
    await proxy.close();
    await bed.close();
  });

  it("forwards requests through the entry point", async () => {
    const before = tunnels;
    assert.deepEqual(await get(0, "a"), { status: 200, body: "a" });
    assert.deepEqual(await get(0, "a"), { status: 200, body: "a" });
    assert.equal(tunnels - before, 1, "one tunnel, kept alive for both requests");
  });

  it("passes an upgrade through the entry point", async () => {
    await get(0, "ws");
    const target = [...bed.agent.servers.values()].find((s) => s.actor === "ws")
      ?.server as http.Server;
    target.on("upgrade", (_req, socket: net.Socket, head: Buffer) => {
      socket.write("HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\nconnection: upgrade\r\n\r\n");
      if (head.length) socket.write(head);
      socket.pipe(socket);
    });
    const reply = await new Promise<string>((resolve, reject) => {
      const s = net.connect(ports[0] as number, "127.0.0.1", () =>
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
      s.on("error", reject);
    });
    assert.match(reply, /^HTTP\/1.1 101 Switching Protocols/);
  });

  it("reaches nothing with a secret the entry point refuses", async () => {
    const r = await get(1, "a");
    assert.equal(r.status, 502);
    assert.match(r.body, /did not answer/);
  });
});
