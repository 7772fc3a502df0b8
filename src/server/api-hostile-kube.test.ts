// Hostile requests against the Kubernetes-style routes and the actor token, over HTTP against a
// real API server: an actor's token reads no discovery; a write never changes what an object
// is (apiVersion, kind) or its server-owned deletionTimestamp; a dry run never writes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { auth, startTestApi, type TestApi } from "../../test/support/api-server.ts";
import { namespaceObject, secretObject } from "../api/testing.ts";
import { NamespaceType, SecretType, secretValues } from "../api/v1/index.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { ensureDefaultNamespace, SqliteResourceStore } from "../resources/index.ts";

const mergePatch = { "content-type": "application/merge-patch+json" };
const json = { "content-type": "application/json" };

describe("hostile Kubernetes-style requests", () => {
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const cp = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({}) });
  let api: TestApi;
  let actorToken = "";

  const call = async (
    method: string,
    path: string,
    o: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: { ...auth(o.token ?? api.adminToken), ...o.headers },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text || "{}") as Record<string, unknown> };
  };

  before(async () => {
    // The debug server lets clients write status: the widest the routes get.
    api = await startTestApi({ controlPlane: cp, resources, debug: true });
    await cp.createAtespace("a");
    const createdAt = "2030-01-01T00:00:00.000Z";
    await records.store.commit([
      {
        kind: "actor",
        key: "a/alice",
        expectVersion: 0,
        value: { atespace: "a", actorId: "alice", createdAt, status: "RUNNING" },
      },
    ]);
    actorToken = await api.tokens.actors.issue({ atespace: "a", actorId: "alice", createdAt });
    await ensureDefaultNamespace(resources);
    await resources.create(NamespaceType, namespaceObject("t"));
    await resources.create(SecretType, secretObject("s", { k: "v" }, "t"));
  });
  after(async () => {
    await api.close();
    await resources.close();
    await records.store.close();
  });

  it("refuses an actor's token discovery and OpenAPI, as everything but its own calls", async () => {
    for (const path of ["/api", "/api/v1", "/apis", "/apis/ate.dev/v1alpha1", "/openapi/v2"]) {
      const r = await call("GET", path, { token: actorToken });
      assert.equal(r.status, 403, `${path}: ${r.text}`);
      assert.match(String(r.body.message), /the actor token of a\/alice may not read/);
    }
    // What it may do still works; an admin still discovers.
    const me = await call("POST", "/ateapi.Control/GetActor", {
      token: actorToken,
      body: { actorRef: { atespace: "a", name: "alice" } },
      headers: json,
    });
    assert.equal(me.status, 200, me.text);
    assert.equal((await call("GET", "/apis")).status, 200);
  });

  it("refuses a PATCH that changes an object's apiVersion or kind; nothing is stored", async () => {
    const path = "/api/v1/namespaces/t/secrets/s";
    for (const patch of [{ kind: "Namespace" }, { apiVersion: "ate.dev/v1alpha1" }]) {
      for (const type of [
        mergePatch,
        { "content-type": "application/strategic-merge-patch+json" },
      ]) {
        const r = await call("PATCH", path, { body: patch, headers: type });
        assert.equal(r.status, 400, r.text);
        assert.match(String(r.body.message), /(kind|apiVersion): the patch changes it from/);
      }
    }
    // Removed, with the same values behind them as the object's prototype: still a change.
    const proto = '{"kind":null,"apiVersion":null,"__proto__":{"kind":"Secret","apiVersion":"v1"}}';
    for (const type of ["application/merge-patch+json", "application/strategic-merge-patch+json"]) {
      const res = await fetch(`${api.url}${path}`, {
        method: "PATCH",
        headers: { ...auth(api.adminToken), "content-type": type },
        body: proto,
      });
      assert.equal(res.status, 400, await res.text());
    }
    const stored = await resources.get(SecretType, "t", "s");
    assert.deepEqual([stored.apiVersion, stored.kind], ["v1", "Secret"]);
  });

  it("refuses a PUT or POST whose apiVersion or kind is not the path's", async () => {
    const current = await resources.get(SecretType, "t", "s");
    const put = await call("PUT", "/api/v1/namespaces/t/secrets/s", {
      body: { ...current, kind: "Namespace" },
      headers: json,
    });
    assert.equal(put.status, 400, put.text);
    assert.match(String(put.body.message), /this path takes v1 Secret/);
    const post = await call("POST", "/api/v1/namespaces/t/secrets", {
      body: { ...secretObject("other", {}, "t"), apiVersion: "ate.dev/v1alpha1" },
      headers: json,
    });
    assert.equal(post.status, 400, post.text);
    const status = await call("PUT", "/api/v1/namespaces/t/status", {
      body: { ...namespaceObject("t"), kind: "Secret", status: { phase: "Active" } },
      headers: json,
    });
    assert.equal(status.status, 400, status.text);
    assert.equal((await resources.get(SecretType, "t", "s")).kind, "Secret");
    assert.equal((await call("GET", "/api/v1/namespaces/t/secrets/other")).status, 404);
  });

  it("keeps deletionTimestamp the server's: a client sets none on create or update", async () => {
    const when = "2020-01-01T00:00:00Z";
    const patched = await call("PATCH", "/api/v1/namespaces/t", {
      body: { metadata: { deletionTimestamp: when } },
      headers: mergePatch,
    });
    assert.equal(patched.status, 200, patched.text);
    const ns = await resources.get(NamespaceType, undefined, "t");
    assert.equal(ns.metadata.deletionTimestamp, undefined);
    const created = await call("POST", "/api/v1/namespaces", {
      body: { ...namespaceObject("u"), metadata: { name: "u", deletionTimestamp: when } },
      headers: json,
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(
      (await resources.get(NamespaceType, undefined, "u")).metadata.deletionTimestamp,
      undefined,
    );
  });

  it("writes nothing on a dry run of a status write", async () => {
    const before = await resources.get(NamespaceType, undefined, "t");
    const r = await call("PATCH", "/api/v1/namespaces/t/status?dryRun=All", {
      body: { status: { phase: "Terminating" } },
      headers: mergePatch,
    });
    assert.ok(r.status >= 400, r.text);
    const put = await call("PUT", "/api/v1/namespaces/t/status?dryRun=All", {
      body: { ...before, status: { phase: "Terminating" } },
      headers: json,
    });
    assert.ok(put.status >= 400, put.text);
    const after = await resources.get(NamespaceType, undefined, "t");
    assert.deepEqual(after.status, { phase: "Active" });
    assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
  });

  it("stores a Secret key named __proto__ as any other key, never swallowing it", async () => {
    const body = `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"proto","namespace":"t"},"data":{"__proto__":"${Buffer.from("v").toString("base64")}"},"stringData":{"constructor":"c"}}`;
    const res = await fetch(`${api.url}/api/v1/namespaces/t/secrets`, {
      method: "POST",
      headers: { ...auth(api.adminToken), ...json },
      body,
    });
    assert.equal(res.status, 201, await res.text());
    const stored = await resources.get(SecretType, "t", "proto");
    assert.deepEqual(Object.keys(secretValues(stored)).sort(), ["__proto__", "constructor"]);
    assert.equal(Object.getOwnPropertyDescriptor(secretValues(stored), "__proto__")?.value, "v");
  });

  it("answers a dry-run delete of the default namespace as the delete: forbidden", async () => {
    for (const path of ["/api/v1/namespaces/default?dryRun=All", "/api/v1/namespaces/default"]) {
      const r = await call("DELETE", path);
      assert.equal(r.status, 403, `${path}: ${r.text}`);
      assert.match(String(r.body.message), /this namespace may not be deleted/);
    }
  });
});
