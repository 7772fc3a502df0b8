// Who is given a node's entry token: only router tokens, in every answer that carries an
// actor (GetActor, ResumeActor, ListActors, WatchActors), over gRPC and Connect JSON alike.
// Tenants and admins never see it, in any protocol; the raw bytes are checked, not only
// the decoded field.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { auth, startTestApi, type TestApi } from "../../test/support/api-server.ts";
import { nodeEntryToken } from "../node/index.ts";
import { ActorEvent_Type, Control } from "../proto/gen/ateapi/control_pb.ts";
import { type RouterTestbed, routerTestbed } from "../router/testing.ts";

const callSecret = "the-node-call-secret-0123456789";
const token = nodeEntryToken(callSecret);
const entry = "127.0.0.1:7481";

describe("the entry token in Control API answers", () => {
  let bed: RouterTestbed;
  let api: TestApi;
  const tokens: Record<"router" | "tenant" | "admin", string> = {
    router: "",
    tenant: "",
    admin: "",
  };
  const transports = (who: keyof typeof tokens): [string, Transport][] => {
    const interceptors: Interceptor[] = [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${tokens[who]}`);
        return next(req);
      },
    ];
    return [
      ["gRPC", createGrpcTransport({ baseUrl: api.url, interceptors })],
      ["Connect", createConnectTransport({ baseUrl: api.url, httpVersion: "1.1", interceptors })],
    ];
  };
  /** Every actor message a caller gets from each protocol and each call. */
  const answers = async (who: keyof typeof tokens) => {
    const out: { how: string; entry: string; token: string }[] = [];
    for (const [protocol, transport] of transports(who)) {
      const c = createClient(Control, transport);
      const ref = { actorRef: { atespace: "t", name: "a" } };
      const got = (how: string, a: { workerEntry: string; workerEntryToken: string } | undefined) =>
        out.push({
          how: `${protocol} ${how}`,
          entry: a?.workerEntry ?? "",
          token: a?.workerEntryToken ?? "",
        });
      got("GetActor", (await c.getActor(ref)).actor);
      got("ResumeActor", (await c.resumeActor(ref)).actor);
      if (who !== "router")
        for (const a of (await c.listActors({ atespace: "t" })).actors) got("ListActors", a);
      for await (const e of c.watchActors({})) {
        if (e.type === ActorEvent_Type.SYNCED) break;
        if (e.actor?.actorId === "a") got("WatchActors", e.actor);
      }
    }
    return out;
  };
  /** Connect JSON by hand (what curl sees): the raw body. */
  const raw = async (who: keyof typeof tokens, method: string, body: unknown) => {
    const res = await fetch(`${api.url}/ateapi.Control/${method}`, {
      method: "POST",
      headers: { ...auth(tokens[who]), "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  };

  before(async () => {
    bed = await routerTestbed((id) => (_req, res) => res.end(id));
    await bed.routeThrough(entry, callSecret);
    await bed.add("a");
    await bed.cp.resumeActor({ atespace: "t", name: "a" });
    api = await startTestApi({ controlPlane: bed.cp, resources: bed.resources });
    tokens.router = (await api.tokens.create({ name: "r1", role: "router" })).text;
    tokens.tenant = await api.tenantToken("tenant", "t");
    tokens.admin = api.adminToken;
  });
  after(async () => {
    await api.close();
    await bed.close();
  });

  it("is given to router tokens with every actor on a worker behind an entry point", async () => {
    const got = await answers("router");
    assert.ok(got.length >= 6, JSON.stringify(got));
    for (const a of got) assert.deepEqual(a, { how: a.how, entry, token }, a.how);
    const r = await raw("router", "GetActor", { actorRef: { atespace: "t", name: "a" } });
    assert.equal(r.status, 200);
    assert.ok(r.text.includes(token), r.text);
  });

  it("is never given to a tenant or an admin, in any protocol or call", async () => {
    for (const who of ["tenant", "admin"] as const) {
      const got = await answers(who);
      assert.ok(got.length >= 8, `${who}: ${JSON.stringify(got)}`);
      for (const a of got) assert.deepEqual(a, { how: a.how, entry, token: "" }, `${who} ${a.how}`);
      for (const [method, body] of [
        ["GetActor", { actorRef: { atespace: "t", name: "a" } }],
        ["ResumeActor", { actorRef: { atespace: "t", name: "a" } }],
        ["ListActors", { atespace: "t" }],
        ["ListActors", {}],
      ] as const) {
        const r = await raw(who, method, body);
        assert.equal(r.status, 200, `${who} ${method}: ${r.text}`);
        assert.ok(r.text.includes(entry), `${who} ${method} shows the entry point`);
        assert.ok(!r.text.includes(token), `${who} ${method} must not carry the token`);
        assert.ok(!/workerEntryToken/i.test(r.text), `${who} ${method}: ${r.text}`);
      }
    }
  });

  it("follows the node: a restarted node's new token, none for a lost node", async () => {
    const router = createClient(Control, (transports("router")[0] as [string, Transport])[1]);
    const ref = { actorRef: { atespace: "t", name: "a" } };
    await bed.routeThrough(entry, `${callSecret}-restarted`);
    assert.equal(
      (await router.getActor(ref)).actor?.workerEntryToken,
      nodeEntryToken(`${callSecret}-restarted`),
    );
    const n1 = await bed.records.getNode("n1");
    assert.ok(n1);
    await bed.records.putNode({ ...n1, state: "Lost", lostAt: new Date().toISOString() });
    assert.equal((await router.getActor(ref)).actor?.workerEntryToken, "");
  });
});
