import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code as ConnectCode, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { auth, startTestApi, type TestApi } from "../../test/support/api-server.ts";
import { actorTemplate, sandboxConfig } from "../api/testing.ts";
import { ActorTemplateType, SandboxConfigType } from "../api/v1alpha1/index.ts";
import { bearer } from "../cli/control-client.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { Control } from "../proto/gen/ateapi/control_pb.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { RemoteResourceStore, SqliteResourceStore } from "../resources/index.ts";

describe("API server", () => {
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const cp = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({}) });
  let server: TestApi;
  const connect = async (method: string, body: unknown) => {
    const res = await fetch(`${server.url}/ateapi.Control/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth(server.adminToken) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    server = await startTestApi({ controlPlane: cp, resources });
    await resources.create(ActorTemplateType, actorTemplate("counter"));
  });
  after(async () => {
    await server.close();
    await resources.close();
    await records.store.close();
  });

  it("serves the Control service as Connect JSON over HTTP/1.1 (curl-able)", async () => {
    assert.deepEqual(await connect("CreateAtespace", { name: "demo" }), {
      status: 200,
      body: { atespace: { name: "demo" } },
    });
    const created = await connect("CreateActor", {
      actorRef: { atespace: "demo", name: "a1" },
      actorTemplateNamespace: "default",
      actorTemplateName: "counter",
    });
    assert.equal(created.status, 200);
    assert.deepEqual(created.body.actor, {
      actorId: "a1",
      version: "1",
      actorTemplateNamespace: "default",
      actorTemplateName: "counter",
      status: "STATUS_SUSPENDED",
      atespace: "demo",
    });
  });

  it("maps errors to the contract's codes and HTTP statuses", async () => {
    const missing = await connect("GetActor", { actorRef: { atespace: "demo", name: "nope" } });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, "not_found");
    const bad = await connect("GetActor", { actorRef: { atespace: "demo", name: "Bad_Name" } });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.message), /actor_ref.name: Invalid value: "Bad_Name"/);
    const noTemplate = await connect("CreateActor", {
      actorRef: { atespace: "demo", name: "a2" },
      actorTemplateName: "gone",
    });
    assert.equal(noTemplate.status, 503, "FAILED_PRECONDITION → 503, message kept");
    assert.match(String(noTemplate.body.message), /ActorTemplate default\/gone does not exist/);
    assert.equal((await connect("DebugClear", {})).status, 403);
  });

  it("serves the same service as gRPC over HTTP/2 on the same port", async () => {
    const client = createClient(
      Control,
      createGrpcTransport({ baseUrl: server.url, interceptors: [bearer(server.adminToken)] }),
    );
    const { atespaces } = await client.listAtespaces({});
    assert.deepEqual(
      atespaces.map((a) => a.name),
      ["demo"],
    );
    const { actors, nextPageToken } = await client.listActors({ atespace: "demo" });
    assert.deepEqual(
      actors.map((a) => a.actorId),
      ["a1"],
    );
    assert.equal(nextPageToken, "");
    await assert.rejects(
      client.getActor({ actorRef: { atespace: "demo", name: "nope" } }),
      (e) => e instanceof ConnectError && e.code === ConnectCode.NotFound,
    );
    await assert.rejects(
      client.listActors({ pageSize: -1 }),
      (e) => e instanceof ConnectError && e.code === ConnectCode.InvalidArgument,
    );
  });

  it("serves the resources to a remote store: create, get, list, watch, delete", async () => {
    const remote = new RemoteResourceStore(server.url, { token: server.adminToken });
    const { resourceVersion } = await remote.list(SandboxConfigType);
    const ac = new AbortController();
    const events: string[] = [];
    const watching = (async () => {
      for await (const e of remote.watch({
        type: SandboxConfigType,
        resourceVersion,
        signal: ac.signal,
      })) {
        events.push(`${e.type} ${e.object.metadata.name}`);
        if (events.length === 2) ac.abort();
      }
    })();
    await remote.create(SandboxConfigType, sandboxConfig("remote"));
    assert.equal(
      (await remote.get(SandboxConfigType, undefined, "remote")).metadata.name,
      "remote",
    );
    assert.deepEqual(
      (await remote.list(SandboxConfigType)).items.map((o) => o.metadata.name),
      ["remote"],
    );
    await assert.rejects(
      remote.create(SandboxConfigType, sandboxConfig("bad", { assets: {} })),
      (e) =>
        isAteError(e, Code.InvalidArgument) &&
        /SandboxConfig "bad" is invalid/.test((e as Error).message),
    );
    await remote.delete(SandboxConfigType, undefined, "remote");
    await watching;
    assert.deepEqual(events, ["ADDED remote", "DELETED remote"]);
    await assert.rejects(remote.get(SandboxConfigType, undefined, "remote"), (e) =>
      isAteError(e, Code.NotFound),
    );
  });
});
