// Authentication and the two roles, against a real API server over HTTP/1.1 and HTTP/2
// (records and resources in SQLite, a node agent that does no sandbox work).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code as ConnectCode, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { auth, startTestApi, type TestApi } from "../../test/support/api-server.ts";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { declareNoopPool } from "../../test/support/noop-pool.ts";
import { sandboxConfig, sha, workerPool } from "../api/testing.ts";
import { TokenStore } from "../auth/index.ts";
import { bearer } from "../cli/control-client.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { silentLogger } from "../log/index.ts";
import { Control } from "../proto/gen/ateapi/control_pb.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { startApiServer } from "./api-server.ts";

const apis = "/apis/ate.dev/v1alpha1";

describe("API authentication and roles", () => {
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new NoopNodeAgent();
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
  });
  let api: TestApi;
  let debugApi: TestApi;
  let tenant = "";

  /** A Connect JSON call: status and body. */
  const call = async (token: string | undefined, method: string, body: unknown = {}) => {
    const res = await fetch(`${api.url}/ateapi.${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? auth(token) : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const rest = async (
    token: string | undefined,
    method: string,
    path: string,
    body?: unknown,
    url = api.url,
  ) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(token ? auth(token) : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text);
    } catch {
      json = { text };
    }
    return { status: res.status, body: json, headers: res.headers };
  };
  const grpc = (token?: string) =>
    createClient(
      Control,
      createGrpcTransport({ baseUrl: api.url, interceptors: token ? [bearer(token)] : [] }),
    );
  const ref = (atespace: string, name: string) => ({ actorRef: { atespace, name } });

  before(async () => {
    await declareNoopPool(resources, records, agent, { replicas: 2 });
    api = await startTestApi({ controlPlane: cp, resources, tokenRecheckMs: 20 });
    debugApi = await startTestApi({ controlPlane: cp, resources, debug: true });
    for (const s of ["a", "b"]) await cp.createAtespace(s);
    await cp.createActor({ atespace: "a", name: "x" }, "default", "counter");
    await cp.createActor({ atespace: "b", name: "y" }, "default", "counter");
    tenant = await api.tenantToken("tenant-a", "a");
  });
  after(async () => {
    await api.close();
    await debugApi.close();
    await resources.close();
    await records.store.close();
  });

  it("refuses every API without a valid token: 401 / UNAUTHENTICATED; /healthz and /version stay open", async () => {
    // Expired: made by a clock an hour behind, with a minute to live.
    const past = new TokenStore(records.store, { now: () => new Date(Date.now() - 3_600_000) });
    const expired = (await past.create({ name: "old", role: "admin", ttlMs: 60_000 })).text;
    const revoked = await api.tenantToken("gone", "a");
    await api.tokens.delete("gone");
    const wrongSecret = api.adminToken.replace(/_[0-9a-f]{64}$/, `_${sha("0")}`);
    const cases: [string, string | undefined, RegExp][] = [
      ["none", undefined, /needs a token/],
      ["garbage", "hunter2", /not valid/],
      ["unknown name", `ate_nobody_${sha("1")}`, /not valid/],
      ["wrong secret", wrongSecret, /not valid/],
      ["expired", expired, /token old expired at/],
      ["revoked", revoked, /not valid/],
    ];
    for (const [what, token, message] of cases) {
      const connect = await call(token, "Control/GetActor", ref("a", "x"));
      assert.equal(connect.status, 401, `${what}: Connect`);
      assert.equal(connect.body.code, "unauthenticated");
      assert.match(String(connect.body.message), message, what);
      assert.equal((await call(token, "Admin/WhoAmI")).status, 401, `${what}: Admin`);
      for (const path of [
        `${apis}/sandboxconfigs`,
        `${apis}/namespaces/default/actortemplates?watch=1`,
        "/ate/v1/atespaces/a/actors/x/logs",
      ]) {
        const r = await rest(token, "GET", path);
        assert.equal(r.status, 401, `${what}: ${path}`);
        assert.equal(r.body.code, "unauthenticated");
        assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/);
      }
      await assert.rejects(
        grpc(token).listAtespaces({}),
        (e) => e instanceof ConnectError && e.code === ConnectCode.Unauthenticated,
        `${what}: gRPC`,
      );
    }
    assert.equal((await rest(undefined, "GET", "/healthz")).status, 200);
    assert.equal((await rest(undefined, "GET", "/version")).status, 200);
  });

  it("lets a tenant use actors of its atespace only; another atespace's actors do not exist for it", async () => {
    assert.equal((await call(tenant, "Control/GetActor", ref("a", "x"))).status, 200);
    // Exactly what a missing actor answers.
    const missing = await call(api.adminToken, "Control/GetActor", ref("b", "nope"));
    const hidden = await call(tenant, "Control/GetActor", ref("b", "y"));
    assert.deepEqual(
      { status: hidden.status, code: hidden.body.code },
      { status: missing.status, code: missing.body.code },
    );
    assert.equal(hidden.body.message, "actor b/y not found");
    for (const m of ["ResumeActor", "SuspendActor", "PauseActor", "DeleteActor", "UpdateActor"])
      assert.equal((await call(tenant, `Control/${m}`, ref("b", "y"))).status, 404, m);
    const foreign = await call(tenant, "Control/CreateActor", {
      ...ref("b", "new"),
      actorTemplateName: "counter",
    });
    const noSpace = await call(api.adminToken, "Control/CreateActor", {
      ...ref("c", "new"),
      actorTemplateName: "counter",
    });
    assert.equal(foreign.body.message, "atespace b does not exist: create it first");
    assert.equal(foreign.status, noSpace.status);
    assert.equal((await call(tenant, "Control/GetActor", ref("b", "Bad_Id"))).status, 400);

    // Its own atespace: the whole lifecycle.
    const created = await call(tenant, "Control/CreateActor", {
      ...ref("a", "mine"),
      actorTemplateName: "counter",
    });
    assert.equal(created.status, 200);
    for (const m of ["ResumeActor", "PauseActor", "ResumeActor", "SuspendActor", "DeleteActor"])
      assert.equal((await call(tenant, `Control/${m}`, ref("a", "mine"))).status, 200, m);

    const ids = (r: { body: Record<string, unknown> }) =>
      ((r.body.actors ?? []) as { atespace: string; actorId: string }[]).map(
        (a) => `${a.atespace}/${a.actorId}`,
      );
    assert.deepEqual(ids(await call(tenant, "Control/ListActors", {})), ["a/x"]);
    assert.deepEqual(ids(await call(tenant, "Control/ListActors", { atespace: "b" })), []);
    assert.deepEqual(ids(await call(api.adminToken, "Control/ListActors", {})), ["a/x", "b/y"]);
    const { actors } = await grpc(tenant).listActors({});
    assert.deepEqual(
      actors.map((a) => a.actorId),
      ["x"],
    );
    assert.deepEqual((await call(tenant, "Control/ListAtespaces")).body, {
      atespaces: [{ name: "a" }],
    });
    assert.equal((await call(tenant, "Control/GetAtespace", { name: "a" })).status, 200);
    assert.equal((await call(tenant, "Control/GetAtespace", { name: "b" })).status, 404);

    for (const [m, body] of [
      ["ListWorkers", {}],
      ["CreateAtespace", { name: "c" }],
      ["DeleteAtespace", { name: "a" }],
      ["DebugClear", {}],
    ] as const) {
      const r = await call(tenant, `Control/${m}`, body);
      assert.equal(r.status, 403, m);
      assert.match(String(r.body.message), /token "tenant-a" \(tenant of atespace a\) may not/);
    }

    assert.equal((await rest(tenant, "GET", "/ate/v1/atespaces/a/actors/x/logs")).status, 200);
    const logs = await rest(tenant, "GET", "/ate/v1/atespaces/b/actors/y/logs");
    assert.deepEqual(
      { status: logs.status, message: logs.body.message },
      { status: 404, message: "actor b/y not found" },
    );
  });

  it("lets a tenant read ActorTemplates and nothing else of the resources", async () => {
    const templates = `${apis}/namespaces/default/actortemplates`;
    assert.equal((await rest(tenant, "GET", templates)).status, 200);
    assert.equal((await rest(tenant, "GET", `${templates}/counter`)).status, 200);
    const ac = new AbortController();
    const watch = await fetch(`${api.url}${templates}?watch=1`, {
      headers: auth(tenant),
      signal: ac.signal,
    });
    assert.equal(watch.status, 200);
    ac.abort();
    for (const path of [`${apis}/sandboxconfigs`, `${apis}/namespaces/default/workerpools`])
      assert.equal((await rest(tenant, "GET", path)).status, 403, path);
    const template = (await rest(api.adminToken, "GET", `${templates}/counter`)).body;
    for (const [method, path] of [
      ["POST", templates],
      ["PUT", `${templates}/counter`],
      ["DELETE", `${templates}/counter`],
    ] as const) {
      const r = await rest(tenant, method, path, method === "DELETE" ? undefined : template);
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.match(String(r.body.message), /tenants may only read actortemplates/);
    }
  });

  it("refuses a tenant the attack that ran root code: a file:// runsc and a pool naming it", async () => {
    const evil = sandboxConfig("evil", {
      assets: { amd64: { runsc: { url: "file:///tmp/evil-runsc", sha256: sha("e") } } },
    });
    const pool = workerPool("evil-pool", { sandboxConfigName: "evil" });
    for (const dry of ["", "?dryRun=All"]) {
      const config = await rest(tenant, "POST", `${apis}/sandboxconfigs${dry}`, evil);
      assert.equal(config.status, 403);
      assert.equal(config.body.code, "permission_denied");
      const p = await rest(tenant, "POST", `${apis}/namespaces/default/workerpools${dry}`, pool);
      assert.equal(p.status, 403);
    }
    const names = async (path: string) =>
      (
        (await rest(api.adminToken, "GET", path)).body.items as { metadata: { name: string } }[]
      ).map((o) => o.metadata.name);
    assert.deepEqual(await names(`${apis}/sandboxconfigs`), ["gvisor"], "nothing stored");
    assert.deepEqual(await names(`${apis}/namespaces/default/workerpools`), ["pool"]);
  });

  it("leaves status to the controllers: PUT …/status is refused to admins too, unless --debug", async () => {
    const path = `${apis}/namespaces/default/actortemplates/counter`;
    const template = (await rest(api.adminToken, "GET", path)).body;
    const status = { ...template, status: { phase: "Ready", goldenSnapshot: "file:///other" } };
    for (const token of [api.adminToken, tenant]) {
      const r = await rest(token, "PUT", `${path}/status`, status);
      assert.equal(r.status, 403);
      assert.match(String(r.body.message), /written by ate's controllers only.*--debug/);
    }
    assert.equal((await rest(api.adminToken, "GET", path)).body.status, undefined);
    const debug = await rest(debugApi.adminToken, "PUT", `${path}/status`, status, debugApi.url);
    assert.equal(debug.status, 200);
    assert.equal((debug.body.status as { phase: string }).phase, "Ready");
  });

  it("reserves ate-golden: no actor or atespace there through the API, admin included", async () => {
    await cp.createAtespace("ate-golden"); // as the golden controller does, in process
    await cp.createActor({ atespace: "ate-golden", name: "g" }, "default", "counter");
    for (const token of [api.adminToken, tenant]) {
      for (const m of [
        "CreateActor",
        "ResumeActor",
        "SuspendActor",
        "PauseActor",
        "UpdateActor",
        "DeleteActor",
      ]) {
        const r = await call(token, `Control/${m}`, {
          ...ref("ate-golden", "g"),
          actorTemplateName: "counter",
        });
        assert.equal(r.status, 403, m);
        assert.match(String(r.body.message), /atespace ate-golden is reserved/);
      }
      for (const m of ["CreateAtespace", "DeleteAtespace"])
        assert.equal((await call(token, `Control/${m}`, { name: "ate-golden" })).status, 403);
    }
    assert.equal(
      (await call(api.adminToken, "Control/GetActor", ref("ate-golden", "g"))).status,
      200,
    );
    assert.equal((await cp.getActor({ atespace: "ate-golden", name: "g" })).status, "SUSPENDED");
  });

  it("lets admins manage tokens, revoked at once; a tenant may only ask who it is", async () => {
    const made = await call(api.adminToken, "Admin/CreateToken", {
      name: "ci",
      atespace: "b",
      ttlSeconds: "3600",
    });
    assert.equal(made.status, 200);
    const secret = String(made.body.secret);
    assert.match(secret, /^ate_ci_[0-9a-f]{64}$/);
    const token = made.body.token as Record<string, string>;
    assert.equal(token.role, "ROLE_TENANT");
    assert.ok(Date.parse(token.expiresAt ?? "") > Date.now() + 3_500_000);
    assert.deepEqual((await call(secret, "Admin/WhoAmI")).body.token, token);
    assert.deepEqual(
      ((await call(secret, "Control/ListActors")).body.actors as { actorId: string }[]).map(
        (a) => a.actorId,
      ),
      ["y"],
    );
    const listed = JSON.stringify((await call(api.adminToken, "Admin/ListTokens")).body);
    assert.match(listed, /"name":"ci"/);
    assert.doesNotMatch(listed, /[0-9a-f]{64}|sha256/, "no secret nor hash is ever listed");

    for (const [body, status, message] of [
      [{ name: "t2", atespace: "nope" }, 503, /atespace nope does not exist: create it first/],
      [{ name: "t2", atespace: "ate-golden" }, 403, /reserved/],
      [{ name: "admin", role: "ROLE_ADMIN" }, 400, /reserved for the admin credential/],
      [{ name: "t2" }, 400, /atespace: Required value/],
      [{ name: "Bad_Name", atespace: "a" }, 400, /name: Invalid value: "Bad_Name"/],
      [{ name: "ci", atespace: "a" }, 409, /token ci already exists/],
    ] as const) {
      const r = await call(api.adminToken, "Admin/CreateToken", body);
      assert.equal(r.status, status, JSON.stringify(body));
      assert.match(String(r.body.message), message);
    }

    assert.equal((await call(tenant, "Admin/WhoAmI")).status, 200);
    for (const [m, body] of [
      ["CreateToken", { name: "mine", atespace: "a" }],
      ["ListTokens", {}],
      ["DeleteToken", { name: "ci" }],
    ] as const) {
      const r = await call(tenant, `Admin/${m}`, body);
      assert.equal(r.status, 403, m);
      assert.match(String(r.body.message), /needs an admin token/);
    }

    assert.equal((await call(api.adminToken, "Admin/DeleteToken", { name: "ci" })).status, 200);
    assert.equal((await call(secret, "Admin/WhoAmI")).status, 401, "revoked at once");
    assert.equal((await call(api.adminToken, "Admin/DeleteToken", { name: "ci" })).status, 404);
  });

  it("answers UNAVAILABLE, not 401, when the token store cannot answer", async () => {
    const broken = new SqliteRecordStore(":memory:");
    await broken.close();
    const server = await startApiServer({
      port: 0,
      controlPlane: cp,
      resources,
      tokens: new TokenStore(broken),
      logger: silentLogger,
    });
    try {
      const res = await fetch(`${server.url}${apis}/sandboxconfigs`, { headers: auth(tenant) });
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { code: string }).code, "unavailable");
    } finally {
      await server.close();
    }
  });

  it("ends an open watch when its token is revoked", async () => {
    const token = await api.tenantToken("watcher", "a");
    const res = await fetch(`${api.url}${apis}/namespaces/default/actortemplates?watch=1`, {
      headers: auth(token),
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await api.tokens.delete("watcher");
    // The stream ends by itself (within the recheck interval); the timeout above is a guard.
    for (;;) if ((await reader.read()).done) break;
  });
});
