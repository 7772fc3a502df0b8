// What ate serves Kubernetes clients, checked over HTTP: discovery, OpenAPI, Tables, Status
// errors, PATCH, field selectors, DeleteOptions and Basic-carried tokens; hostile input is
// refused with a message naming what is wrong, and nothing is stored.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { auth, startTestApi, type TestApi } from "../../test/support/api-server.ts";
import { WorkerPoolType } from "../api/v1alpha1/index.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { DocumentSchema } from "../proto/gen/openapi/v2/openapi_pb.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { applyMergePatch, applyStrategicMergePatch } from "./kube-patch.ts";

const kubeAgent = "kubectl/v1.20.2 (linux/amd64) kubernetes/faecb19";
const pools = "/apis/ate.dev/v1alpha1/namespaces/default/workerpools";
const pool = (name: string, replicas = 1) => ({
  apiVersion: "ate.dev/v1alpha1",
  kind: "WorkerPool",
  metadata: { name },
  spec: { replicas, ateomImage: "ate/worker:1" },
});

describe("the Kubernetes API surface", () => {
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const cp = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({}) });
  let api: TestApi;
  const call = async (
    method: string,
    path: string,
    o: { body?: unknown; type?: string; accept?: string; headers?: Record<string, string> } = {},
  ) => {
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: {
        "user-agent": kubeAgent,
        ...auth(api.adminToken),
        ...(o.body !== undefined ? { "content-type": o.type ?? "application/json" } : {}),
        ...(o.accept ? { accept: o.accept } : {}),
        ...o.headers,
      },
      ...(o.body !== undefined
        ? { body: typeof o.body === "string" ? o.body : JSON.stringify(o.body) }
        : {}),
    });
    const type = res.headers.get("content-type") ?? "";
    const body = type.includes("json") ? await res.json() : new Uint8Array(await res.arrayBuffer());
    return { status: res.status, type, body: body as Record<string, unknown> & Uint8Array };
  };

  before(async () => {
    api = await startTestApi({ controlPlane: cp, resources });
    await cp.createAtespace("team");
    await resources.create(WorkerPoolType, {
      ...pool("a", 2),
      metadata: { name: "a", namespace: "default" },
    });
  });
  after(async () => {
    await api.close();
    await resources.close();
    await records.store.close();
  });

  it("serves discovery from the registry, and version.Info at /version", async () => {
    const groups = await call("GET", "/apis");
    assert.equal(groups.body.kind, "APIGroupList");
    const list = await call("GET", "/apis/ate.dev/v1alpha1");
    const wp = (list.body.resources as Record<string, unknown>[]).find(
      (r) => r.name === "workerpools",
    );
    assert.deepEqual(wp?.shortNames, ["workerpool"]);
    assert.deepEqual(wp?.categories, ["ate"]);
    const names = (list.body.resources as { name: string }[]).map((r) => r.name);
    assert.ok(names.includes("workerpools/status") && !names.includes("workerpools/scale"));
    assert.equal((await call("GET", "/apis/ate.dev/v9")).status, 404);
    const version = (await (await fetch(`${api.url}/version`)).json()) as Record<string, string>;
    assert.equal(version.gitVersion, `v${version.version}`);
  });

  it("serves OpenAPI v2 as protobuf to kubectl, JSON otherwise, with each kind's GVK", async () => {
    const proto = await call("GET", "/openapi/v2", {
      accept: "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    });
    assert.equal(proto.status, 200);
    const doc = fromBinary(DocumentSchema, proto.body);
    const names = doc.definitions?.additionalProperties.map((d) => d.name) ?? [];
    assert.ok(names.includes("dev.ate.v1alpha1.WorkerPool"), names.join());
    const json = await call("GET", "/openapi/v2");
    const defs = json.body.definitions as Record<string, { properties: Record<string, unknown> }>;
    assert.deepEqual(Object.keys(defs).sort(), names.sort());
    assert.ok(defs["dev.ate.v1alpha1.WorkerPool"]?.properties.spec);
  });

  it("answers a Table with the printer columns, and rows carry metadata", async () => {
    const accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    const t = await call("GET", pools, { accept });
    assert.equal(t.body.kind, "Table");
    const cols = (t.body.columnDefinitions as { name: string; priority: number }[]).map(
      (c) => `${c.name}:${c.priority}`,
    );
    assert.deepEqual(cols, [
      "Name:0",
      "Desired:0",
      "Replicas:0",
      "Class:1",
      "SandboxConfig:1",
      "Age:0",
    ]);
    const [row] = t.body.rows as { cells: unknown[]; object: { metadata: { name: string } } }[];
    assert.deepEqual(row?.cells.slice(0, 4), ["a", 2, null, "gvisor"]);
    assert.equal(row?.object.metadata.name, "a");
    const bad = await call("GET", `${pools}?includeObject=All`, { accept });
    assert.equal(bad.status, 400);
    assert.match(
      bad.body.message as string,
      /includeObject "All" is not one of None, Metadata, Object/,
    );
  });

  it("errors are meta/v1 Status for kubectl, ate's error body for ate's clients", async () => {
    const kube = await call("GET", `${pools}/nope`);
    assert.equal(kube.status, 404);
    assert.equal(kube.body.kind, "Status");
    assert.equal(kube.body.reason, "NotFound");
    assert.equal(kube.body.code, 404);
    const ate = await call("GET", `${pools}/nope`, { headers: { "user-agent": "ate" } });
    assert.equal(ate.body.code, "not_found");
  });

  it("selects by metadata.name and refuses other field selectors by name", async () => {
    const one = await call("GET", `${pools}?fieldSelector=metadata.name%3Da`);
    assert.equal((one.body.items as unknown[]).length, 1);
    const none = await call("GET", `${pools}?fieldSelector=metadata.name!%3Da`);
    assert.equal((none.body.items as unknown[]).length, 0);
    const bad = await call("GET", `${pools}?fieldSelector=spec.replicas%3D2`);
    assert.equal(bad.status, 400);
    assert.match(bad.body.message as string, /field label not supported: "spec.replicas"/);
  });

  it("PATCH: merge and strategic patches apply; others, renames and SSA are refused", async () => {
    const merge = await call("PATCH", `${pools}/a`, {
      body: { spec: { replicas: 3 }, metadata: { labels: { x: "1" } } },
      type: "application/merge-patch+json",
    });
    assert.equal(merge.status, 200, JSON.stringify(merge.body));
    assert.equal((await resources.get(WorkerPoolType, "default", "a")).spec.replicas, 3);
    const dry = await call("PATCH", `${pools}/a?dryRun=All`, {
      body: { spec: { replicas: 9 } },
      type: "application/strategic-merge-patch+json",
    });
    assert.equal((dry.body.spec as { replicas: number }).replicas, 9);
    assert.equal((await resources.get(WorkerPoolType, "default", "a")).spec.replicas, 3);
    const refused = [
      [
        { metadata: { name: "b" } },
        "application/merge-patch+json",
        400,
        /metadata\.name: the patch changes it/,
      ],
      [
        [{ op: "add" }],
        "application/json-patch+json",
        415,
        /content-type "application\/json-patch\+json" is not supported/,
      ],
      ["{}", "application/apply-patch+yaml", 415, /server-side apply is not supported/],
      [{ spec: { replicas: -1 } }, "application/merge-patch+json", 422, /spec\.replicas/],
      [
        { $retainKeys: [] },
        "application/strategic-merge-patch+json",
        415,
        /directive "\$retainKeys"/,
      ],
      ["[1]", "application/merge-patch+json", 400, /not a JSON object/],
    ] as const;
    for (const [body, type, status, message] of refused) {
      const r = await call("PATCH", `${pools}/a`, { body, type });
      assert.equal(r.status, status, `${type} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.message as string, message);
    }
    assert.equal((await resources.get(WorkerPoolType, "default", "a")).spec.replicas, 3);
  });

  it("DELETE reads DeleteOptions: dryRun deletes nothing, a bad body is refused", async () => {
    const dry = await call("DELETE", `${pools}/a`, { body: { dryRun: ["All"] } });
    assert.equal(dry.status, 200);
    await resources.get(WorkerPoolType, "default", "a");
    for (const [body, message] of [
      [{ dryRun: ["Some"] }, /dryRun: \["Some"\] is not supported/],
      [
        { preconditions: { resourceVersion: 7 } },
        /preconditions\.resourceVersion: expected a string/,
      ],
      ["nope", /not JSON/],
    ] as const) {
      const r = await call("DELETE", `${pools}/a`, { body });
      assert.equal(r.status, 400);
      assert.match(r.body.message as string, message);
    }
    const stale = await call("DELETE", `${pools}/a`, {
      body: { preconditions: { resourceVersion: "1" } },
    });
    assert.equal(stale.status, 409);
    await resources.get(WorkerPoolType, "default", "a");
  });

  it("accepts RBAC documents and stores none, admins only, with a Warning", async () => {
    const roles = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles";
    const role = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "r" },
    };
    const created = await call("POST", roles, { body: role });
    assert.equal(created.status, 201);
    assert.equal((created.body.metadata as { namespace: string }).namespace, "default");
    assert.equal((await call("GET", `${roles}/r`)).status, 404);
    const wrong = await call("POST", roles, { body: { ...role, kind: "RoleBinding" } });
    assert.equal(wrong.status, 400);
    assert.match(
      wrong.body.message as string,
      /this path takes rbac\.authorization\.k8s\.io\/v1 Role/,
    );
    const tenant = await api.tenantToken("rbac-tenant", "team");
    const refused = await fetch(`${api.url}${roles}`, {
      method: "POST",
      headers: { "user-agent": kubeAgent, ...auth(tenant), "content-type": "application/json" },
      body: JSON.stringify(role),
    });
    assert.equal(refused.status, 403);
    assert.equal(
      (await call("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/x/y")).status,
      404,
    );
  });

  it("takes a token as a Basic password (kubectl over http), and nothing else as one", async () => {
    const basic = (text: string) => ({
      authorization: `Basic ${Buffer.from(text).toString("base64")}`,
    });
    const ok = await fetch(`${api.url}${pools}`, { headers: basic(`ate:${api.adminToken}`) });
    assert.equal(ok.status, 200);
    for (const text of [api.adminToken, `ate:`, `ate:${api.adminToken}x`, `ate:a b`]) {
      const r = await fetch(`${api.url}${pools}`, { headers: basic(text) });
      assert.equal(r.status, 401, text);
    }
    const long = await fetch(`${api.url}${pools}`, {
      headers: { authorization: `Basic ${"A".repeat(5000)}` },
    });
    assert.equal(long.status, 401);
  });
});

describe("patches", () => {
  it("merge patch: null deletes, objects merge, lists replace", () => {
    assert.deepEqual(
      applyMergePatch({ a: 1, b: { c: 2, d: 3 }, l: [1, 2] }, { a: null, b: { c: 5 }, l: [3] }),
      {
        b: { c: 5, d: 3 },
        l: [3],
      },
    );
  });
  it("strategic merge patch: ordering directives ignored, $patch and primitive deletes honoured", () => {
    assert.deepEqual(
      applyStrategicMergePatch(
        { m: { a: "1", b: "2" }, f: ["x", "y"], r: { k: 1 } },
        {
          m: { a: null },
          "$setElementOrder/f": ["y"],
          "$deleteFromPrimitiveList/f": ["x"],
          r: { $patch: "replace", z: 2 },
        },
      ),
      { m: { b: "2" }, f: ["y"], r: { z: 2 } },
    );
  });
});
