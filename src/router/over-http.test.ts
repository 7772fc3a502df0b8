// The router as `ate router` runs it: the Control API over HTTP with a router token, templates
// over REST. And what each token may do with the new RPCs: routers watch and report, tenants
// watch their own atespace only and never report, router tokens create nothing.
import assert from "node:assert/strict";
import http from "node:http";
import type net from "node:net";
import { after, before, describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { startTestApi, type TestApi } from "../../test/support/api-server.ts";
import { fromConnectError } from "../errors/connect.ts";
import { Code } from "../errors/index.ts";
import { ActorEvent_Type, Control } from "../proto/gen/ateapi/control_pb.ts";
import { RemoteResourceStore } from "../resources/index.ts";
import { controlHttpTransport } from "./http-transport.ts";
import { RemoteBackend } from "./remote-backend.ts";
import { Router } from "./router.ts";
import { type RouterTestbed, routerTestbed } from "./testing.ts";

const code = (c: Code) => (err: unknown) => fromConnectError(err).code === c;

describe("the router over HTTP, and who may watch and report", () => {
  let bed: RouterTestbed;
  let api: TestApi;
  let routerToken = "";
  let tenantToken = "";
  let router: Router;
  const server = http.createServer((req, res) => router.handle(req, res));
  let port = 0;
  const client = (token: string) => createClient(Control, controlHttpTransport(api.url, token));
  const firstEvents = async (token: string, req: { atespace?: string; after?: string }) => {
    const out: { type: ActorEvent_Type; id: string; atespace: string }[] = [];
    for await (const e of client(token).watchActors(req)) {
      out.push({ type: e.type, id: e.actor?.actorId ?? "", atespace: e.actor?.atespace ?? "" });
      if (e.type === ActorEvent_Type.SYNCED) break;
    }
    return out;
  };

  before(async () => {
    bed = await routerTestbed((id) => (_req, res) => res.end(id));
    await bed.add("a");
    await bed.add("o", { atespace: "other" });
    api = await startTestApi({ controlPlane: bed.cp, resources: bed.resources });
    routerToken = (await api.tokens.create({ name: "r1", role: "router" })).text;
    tenantToken = await api.tenantToken("tenant", "t");
    router = new Router({
      backend: new RemoteBackend({
        transport: controlHttpTransport(api.url, routerToken),
        templates: new RemoteResourceStore(api.url, { token: routerToken }),
        directAllowed: (address) => address.startsWith("127."), // the test's workers
      }),
      queueWaitMs: 1000,
    });
    router.start();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    await router.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await api.close();
    await bed.close();
  });

  it("routes with a router token over HTTP: resumes, then serves from the watch", async () => {
    const get = () =>
      new Promise<string>((resolve, reject) => {
        http
          .get({ host: "127.0.0.1", port, path: "/actors/t/a/x", agent: false }, (res) => {
            let body = "";
            res.on("data", (c) => {
              body += c;
            });
            res.on("end", () => resolve(body));
          })
          .on("error", reject);
      });
    assert.equal(await get(), "a");
    for (let i = 0; !router.metrics.watchLive; i++) {
      assert.ok(i < 100, "the watch is live");
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await get(), "a");
    for (let i = 0; ; i++) {
      const reports = await bed.cp.activity.reports();
      if (reports.some((r) => r.actors.some((e) => e.key === "t/a"))) break;
      assert.ok(i < 100, "its activity reached the control plane");
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it("lets a router watch every atespace, and a tenant its own only", async () => {
    const all = await firstEvents(routerToken, {});
    assert.deepEqual(
      all.filter((e) => e.type === ActorEvent_Type.PUT).map((e) => `${e.atespace}/${e.id}`),
      ["other/o", "t/a"],
    );
    const own = await firstEvents(tenantToken, {});
    assert.deepEqual(
      own.filter((e) => e.type === ActorEvent_Type.PUT).map((e) => `${e.atespace}/${e.id}`),
      ["t/a"],
      "narrowed to its atespace",
    );
    await assert.rejects(
      firstEvents(tenantToken, { atespace: "other" }),
      code(Code.PermissionDenied),
    );
    await assert.rejects(
      firstEvents(tenantToken, { atespace: "Bad!" }),
      code(Code.PermissionDenied),
    );
    await assert.rejects(
      firstEvents(api.adminToken, { atespace: "Bad!" }),
      code(Code.InvalidArgument),
    );
    await assert.rejects(
      firstEvents(api.adminToken, { after: "x".repeat(500) }),
      code(Code.InvalidArgument),
    );
    await assert.rejects(
      firstEvents(api.adminToken, { after: "nope" }),
      code(Code.InvalidArgument),
    );
    await assert.rejects(firstEvents("ate_nobody_xxxx", {}), code(Code.Unauthenticated));
  });

  it("takes activity reports from routers and admins only", async () => {
    const reportAs = (token: string) =>
      client(token).reportActivity({
        routerId: "r-test",
        sequence: 1n,
        actors: [{ actorRef: { atespace: "t", name: "a" }, inFlight: 0, version: 0n }],
      });
    await reportAs(routerToken);
    await reportAs(api.adminToken);
    await assert.rejects(reportAs(tenantToken), code(Code.PermissionDenied));
    const { text: node } = await api.tokens.create({ name: "n1", role: "node" });
    await assert.rejects(reportAs(node), code(Code.PermissionDenied));
  });

  it("lets a router token create, suspend or delete nothing", async () => {
    const c = client(routerToken);
    const ref = { atespace: "t", name: "a" };
    await assert.rejects(
      c.createActor({ actorRef: { atespace: "t", name: "new" }, actorTemplateName: "p" }),
      code(Code.PermissionDenied),
    );
    await assert.rejects(c.suspendActor({ actorRef: ref }), code(Code.PermissionDenied));
    await assert.rejects(c.deleteActor({ actorRef: ref }), code(Code.PermissionDenied));
    await assert.rejects(c.listActors({}), code(Code.PermissionDenied));
    await assert.rejects(
      c.resumeActor({ actorRef: { atespace: "ate-golden", name: "g" } }),
      code(Code.PermissionDenied),
    );
    assert.equal((await c.getActor({ actorRef: ref })).actor?.actorId, "a");
  });
});
