// v1 Namespace and v1 Secret over the API (/api/v1/...), against a real API server: who may
// touch them, Kubernetes' namespace rules, and secret values kept out of every error.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { auth, startTestApi, type TestApi } from "../../test/support/api-server.ts";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { namespaceObject, secretObject } from "../api/testing.ts";
import { SecretType, secretValues } from "../api/v1/index.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { RemoteResourceStore, SqliteResourceStore } from "../resources/index.ts";

const secretValue = "SECRET-VALUE-never-shown";

describe("v1 Namespace and Secret over the API", () => {
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: new NoopNodeAgent() }),
  });
  let api: TestApi;
  let tenant = "";

  const rest = async (token: string | undefined, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: {
        ...(token ? auth(token) : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) as Record<string, unknown> };
  };
  const admin = (method: string, path: string, body?: unknown) =>
    rest(api.adminToken, method, path, body);

  before(async () => {
    api = await startTestApi({ controlPlane: cp, resources });
    await cp.createAtespace("a");
    tenant = await api.tenantToken("tenant-a", "a");
    await resources.create(SecretType, secretObject("db", { password: secretValue }));
  });
  after(async () => {
    await api.close();
    await resources.close();
    await records.store.close();
  });

  const paths = [
    "/api/v1/namespaces",
    "/api/v1/namespaces/default",
    "/api/v1/secrets",
    "/api/v1/namespaces/default/secrets",
    "/api/v1/namespaces/default/secrets/db",
    "/api/v1/namespaces/default/secrets?watch=1",
  ];

  it("refuses every core-kind path without a token: 401", async () => {
    for (const path of paths) {
      const r = await rest(undefined, "GET", path);
      assert.equal(r.status, 401, path);
      assert.equal(r.body.code, "unauthenticated");
    }
  });

  it("refuses tenants Secrets and Namespaces, reads and writes, naming the kind: 403", async () => {
    for (const path of paths) {
      const r = await rest(tenant, "GET", path);
      assert.equal(r.status, 403, path);
      assert.match(String(r.body.message), /may not (get|list|watch) (secrets|namespaces)/, path);
      assert.doesNotMatch(r.text, new RegExp(secretValue));
    }
    const create = await rest(
      tenant,
      "POST",
      "/api/v1/namespaces/default/secrets",
      secretObject("x"),
    );
    assert.equal(create.status, 403);
    assert.match(String(create.body.message), /may not create secrets/);
    const ns = await rest(tenant, "POST", "/api/v1/namespaces", namespaceObject("mine"));
    assert.equal(ns.status, 403);
    assert.match(String(ns.body.message), /may not create namespaces/);
  });

  it("serves Namespaces and Secrets to an admin, as the API server does", async () => {
    const ns = await admin("POST", "/api/v1/namespaces", namespaceObject("team"));
    assert.equal(ns.status, 201);
    assert.deepEqual(ns.body.status, { phase: "Active" });
    const secret = await admin(
      "POST",
      "/api/v1/namespaces/team/secrets",
      secretObject("api", { token: "t0k" }, "team"),
    );
    assert.equal(secret.status, 201, secret.text);
    assert.deepEqual(secret.body.data, { token: Buffer.from("t0k").toString("base64") });
    const list = await admin("GET", "/api/v1/secrets");
    assert.equal(list.body.apiVersion, "v1");
    assert.equal(list.body.kind, "SecretList");
    const items = list.body.items as { metadata: { namespace: string; name: string } }[];
    assert.deepEqual(
      items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
      ["default/db", "team/api"],
    );
    const inTeam = await admin("GET", "/api/v1/namespaces/team/secrets");
    assert.equal((inTeam.body.items as unknown[]).length, 1);
    const got = await admin("GET", "/api/v1/namespaces/team");
    assert.equal((got.body.metadata as { name: string }).name, "team");
    const nsList = await admin("GET", "/api/v1/namespaces");
    assert.equal(nsList.body.kind, "NamespaceList");
    // A dry run stores nothing.
    const dry = await admin(
      "POST",
      "/api/v1/namespaces/team/secrets?dryRun=All",
      secretObject("dry", { k: "v" }, "team"),
    );
    assert.equal(dry.status, 201);
    assert.equal((await admin("GET", "/api/v1/namespaces/team/secrets/dry")).status, 404);
  });

  it("refuses a Secret in a missing namespace, and bad data without echoing it", async () => {
    const missing = await admin(
      "POST",
      "/api/v1/namespaces/nope/secrets",
      secretObject("s", { k: secretValue }, "nope"),
    );
    assert.equal(missing.status, 404);
    assert.equal(missing.body.message, 'namespaces "nope" not found');
    const bad = await admin("POST", "/api/v1/namespaces/default/secrets", {
      ...secretObject("bad"),
      data: { k: `${secretValue}!` },
    });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.message), /illegal base64 data at input byte/);
    const huge = await admin("POST", "/api/v1/namespaces/default/secrets", {
      ...secretObject("huge", { k: "x".repeat(1024 * 1024 + 1) }),
    });
    assert.equal(huge.status, 400);
    assert.match(String(huge.body.message), /data: Too long: may not be more than 1048576 bytes/);
    for (const r of [missing, bad, huge]) assert.doesNotMatch(r.text, /SECRET-VALUE|xxxxxxxx/);
  });

  it("watches Secrets, and deletes a namespace with what it holds; default stays", async () => {
    await admin("POST", "/api/v1/namespaces", namespaceObject("short"));
    const ac = new AbortController();
    const res = await fetch(`${api.url}/api/v1/namespaces/short/secrets?watch=1`, {
      headers: auth(api.adminToken),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await admin("POST", "/api/v1/namespaces/short/secrets", secretObject("s", { k: "v" }, "short"));
    const del = await admin("DELETE", "/api/v1/namespaces/short");
    assert.equal(del.status, 200);
    let text = "";
    while (text.split("\n").length < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ac.abort();
    assert.deepEqual(
      text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).type),
      ["ADDED", "DELETED"],
    );
    assert.equal((await admin("GET", "/api/v1/namespaces/short")).status, 404);
    const keep = await admin("DELETE", "/api/v1/namespaces/default");
    assert.equal(keep.status, 403);
    assert.equal(
      keep.body.message,
      'namespaces "default" is forbidden: this namespace may not be deleted',
    );
  });

  it("is what RemoteResourceStore (the CLI's store) talks to", async () => {
    const remote = new RemoteResourceStore(api.url, { token: api.adminToken });
    const created = await remote.create(SecretType, secretObject("r", { a: "1" }));
    assert.deepEqual(secretValues(created), { a: "1" });
    assert.deepEqual(secretValues(await remote.get(SecretType, "default", "r")), { a: "1" });
    await remote.delete(SecretType, "default", "r");
    await assert.rejects(remote.get(SecretType, "default", "r"), (e) =>
      isAteError(e, Code.NotFound),
    );
    const asTenant = new RemoteResourceStore(api.url, { token: tenant });
    await assert.rejects(asTenant.list(SecretType), (e) => isAteError(e, Code.PermissionDenied));
  });
});
