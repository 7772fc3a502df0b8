// The SDK against a real API server and router on loopback: the control plane in process,
// a node agent whose "sandboxes" are local HTTP servers (src/router/testing.ts).
import assert from "node:assert/strict";
import http from "node:http";
import type net from "node:net";
import { after, before, describe, it } from "node:test";
import { startTestApi, type TestApi } from "../../test/support/api-server.ts";
import type { ActorIdentity, NodeLogsOptions } from "../node/index.ts";
import { RemoteResourceStore } from "../resources/index.ts";
import { controlHttpTransport } from "../router/http-transport.ts";
import { RemoteBackend } from "../router/remote-backend.ts";
import { Router } from "../router/router.ts";
import { type RouterTestbed, routerTestbed } from "../router/testing.ts";
import { Actor_Status, AteError, Code, connect } from "./index.ts";

const rejectsWith = (code: Code) => (err: unknown) => {
  assert.ok(err instanceof AteError, `not an AteError: ${err}`);
  assert.equal(err.code, code, err.message);
  return true;
};

describe("the TypeScript SDK", () => {
  let bed: RouterTestbed;
  let api: TestApi;
  let router: Router;
  const routerServer = http.createServer((req, res) => router.handle(req, res));
  let routerUrl = "";
  const admin = () => connect({ server: api.url, token: api.adminToken, router: routerUrl });

  before(async () => {
    // Each actor answers with its name, the path it was asked and the body it was sent.
    bed = await routerTestbed((id) => (req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => res.end(`${id} ${req.method} ${req.url} ${body}`));
    });
    await bed.add("template-maker"); // makes template "p" in namespace default, atespace t
    api = await startTestApi({ controlPlane: bed.cp, resources: bed.resources });
    const routerToken = (await api.tokens.create({ name: "r1", role: "router" })).text;
    router = new Router({
      backend: new RemoteBackend({
        transport: controlHttpTransport(api.url, routerToken),
        templates: new RemoteResourceStore(api.url, { token: routerToken }),
        directAllowed: (address) => address.startsWith("127."), // the test's workers
      }),
      queueWaitMs: 1000,
    });
    router.start();
    await new Promise<void>((r) => routerServer.listen(0, "127.0.0.1", r));
    routerUrl = `http://127.0.0.1:${(routerServer.address() as net.AddressInfo).port}`;
  });
  after(async () => {
    await router.stop();
    routerServer.closeAllConnections();
    await new Promise((r) => routerServer.close(r));
    await api.close();
    await bed.close();
  });

  it("creates, lists, resumes, suspends, pauses and deletes actors and atespaces", async () => {
    const ate = admin();
    assert.equal((await ate.atespaces.create("sdk")).name, "sdk");
    assert.equal((await ate.atespaces.get("sdk")).name, "sdk");
    assert.deepEqual((await ate.atespaces.list()).map((a) => a.name).sort(), ["sdk", "t"].sort());
    const created = await ate.actors.create("a1", { template: "default/p", atespace: "sdk" });
    assert.equal(created.status, Actor_Status.SUSPENDED);
    const a1 = ate.actor("a1", "sdk");
    assert.equal((await a1.resume()).status, Actor_Status.RUNNING);
    assert.equal((await a1.get()).status, Actor_Status.RUNNING);
    assert.equal((await a1.suspend()).status, Actor_Status.SUSPENDED);
    assert.equal((await a1.resume({ boot: true })).status, Actor_Status.RUNNING);
    assert.equal((await a1.pause()).status, Actor_Status.PAUSED);
    assert.deepEqual(
      (await ate.actors.list({ atespace: "sdk" })).map((a) => a.actorId),
      ["a1"],
    );
    assert.deepEqual(
      (await ate.actors.list({ all: true })).map((a) => `${a.atespace}/${a.actorId}`).sort(),
      ["sdk/a1", "t/template-maker"],
    );
    await a1.resume();
    assert.equal((await a1.suspend()).status, Actor_Status.SUSPENDED);
    await a1.delete();
    await assert.rejects(a1.get(), rejectsWith(Code.NotFound));
    await ate.atespaces.delete("sdk");
  });

  it("refuses a bad token as Unauthenticated", async () => {
    const ate = connect({ server: api.url, token: "ate_nobody_0000" });
    await assert.rejects(ate.actors.list(), rejectsWith(Code.Unauthenticated));
    await assert.rejects(ate.actor("x").logs().next(), rejectsWith(Code.Unauthenticated));
  });

  it("cancels a call whose signal aborts, before it is sent or while it waits", async () => {
    const ate = admin();
    await assert.rejects(
      ate.actors.list({ signal: AbortSignal.abort() }),
      rejectsWith(Code.Canceled),
    );
    // A server that never answers: the call is aborted once the server has it.
    const ac = new AbortController();
    const silent = http.createServer(() => ac.abort());
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const hanging = connect({ server: `http://127.0.0.1:${port}`, token: "t" });
      await assert.rejects(
        hanging.actors.get("x", { signal: ac.signal }),
        rejectsWith(Code.Canceled),
      );
    } finally {
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
    await assert.rejects(
      ate.actor("template-maker", "t").fetch("/", { signal: AbortSignal.abort() }),
      rejectsWith(Code.Canceled),
    );
  });

  it("lists only a tenant's own atespace and actors for a tenant token", async () => {
    const ate = admin();
    await ate.atespaces.create("mine");
    await ate.actors.create("m1", { template: "p", atespace: "mine" });
    const tenant = connect({
      server: api.url,
      token: await api.tenantToken("sdk-tenant", "mine"),
      atespace: "mine",
    });
    assert.deepEqual(
      (await tenant.atespaces.list()).map((a) => a.name),
      ["mine"],
    );
    assert.deepEqual(
      (await tenant.actors.list({ all: true })).map((a) => a.actorId),
      ["m1"],
    );
    // Another atespace's listing is narrowed to its own, never another's actors.
    assert.ok((await tenant.actors.list({ atespace: "t" })).every((a) => a.atespace === "mine"));
    // Another atespace's actors do not exist for it.
    await assert.rejects(tenant.actor("template-maker", "t").get(), rejectsWith(Code.NotFound));
    await ate.actors.delete("m1", { atespace: "mine" });
  });

  it("fetches through the router, which resumes a suspended actor", async () => {
    const ate = admin();
    await ate.actors.create("web", { template: "p", atespace: "t" });
    const web = ate.actor("web", "t");
    assert.equal((await web.get()).status, Actor_Status.SUSPENDED);
    const res = await web.fetch("/hello?x=1", { method: "POST", body: "hi" });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "web POST /hello?x=1 hi");
    assert.equal((await web.get()).status, Actor_Status.RUNNING);
    await web.suspend();
    assert.equal(await (await web.fetch("/again")).text(), "web GET /again ");
    await web.suspend();
    await web.delete();
  });

  it("iterates an actor's logs, and ends the iteration when its signal aborts", async () => {
    const ate = admin();
    bed.agent.logs = async function* (_a: ActorIdentity, o: NodeLogsOptions = {}) {
      yield Buffer.from("hello from the actor\n").subarray(o.from ?? 0);
    };
    await ate.actors.create("talker", { template: "p", atespace: "t" });
    const talker = ate.actor("talker", "t");
    await talker.resume();
    let all = "";
    for await (const text of talker.logs()) all += text;
    assert.equal(all, "hello from the actor\n");
    const ac = new AbortController();
    const seen: string[] = [];
    for await (const text of talker.logs({ follow: true, signal: ac.signal })) {
      seen.push(text);
      ac.abort(); // the follow would wait for more output forever
    }
    assert.deepEqual(seen, ["hello from the actor\n"]);
    await assert.rejects(ate.actor("nobody", "t").logs().next(), rejectsWith(Code.NotFound));
    await talker.suspend();
    await talker.delete();
  });
});
