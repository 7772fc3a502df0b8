// The API as a hostile tenant meets it: tokens that outlive what they were for, readers that
// stop reading, headers that almost look right, paths and bodies that name different objects.
// A real API server over HTTP/1.1 and HTTP/2; actor logs from a real node layout on disk.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect } from "node:http2";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code as ConnectCode, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { auth, startTestApi, type TestApi } from "../../test/support/api-server.ts";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { declareNoopPool } from "../../test/support/noop-pool.ts";
import { bearer } from "../cli/control-client.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { type ActorIdentity, maxLogPieceBytes, type NodeLogsOptions } from "../node/index.ts";
import { NodeLayout } from "../node/layout.ts";
import { Control } from "../proto/gen/ateapi/control_pb.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";

const apis = "/apis/ate.dev/v1alpha1";

/** A node agent that does no sandbox work but serves actors' logs from a real state dir. */
class LoggingNode extends NoopNodeAgent {
  constructor(readonly layout: NodeLayout) {
    super();
  }
  override async *logs(actor: ActorIdentity, o: NodeLogsOptions = {}): AsyncGenerator<Uint8Array> {
    for (let from = o.from ?? 0; ; ) {
      const piece = await this.layout.readLog(actor, from);
      if (piece.length) yield piece;
      from += piece.length;
      if (piece.length < maxLogPieceBytes) return;
    }
  }
}

describe("the API against a hostile tenant", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-hostile-"));
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new LoggingNode(new NodeLayout(dir));
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
  });
  let api: TestApi;

  const identity = (atespace: string, actorId: string): ActorIdentity => ({
    atespace,
    actorId,
    templateNamespace: "default",
    templateName: "counter",
  });
  /** Gives an actor a log on the node: `size` bytes of `fill`, or a sparse file of zeros. */
  const writeLog = (a: ActorIdentity, size: number, fill?: string) => {
    const path = agent.layout.logPath(a);
    mkdirSync(dirname(path), { recursive: true });
    if (fill) writeFileSync(path, fill.repeat(Math.ceil(size / fill.length)).slice(0, size));
    else {
      writeFileSync(path, "");
      truncateSync(path, size);
    }
  };
  const call = async (token: string, method: string, body: unknown = {}) => {
    const res = await fetch(`${api.url}/ateapi.${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth(token) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    await declareNoopPool(resources, records, agent, { replicas: 1 });
    api = await startTestApi({ controlPlane: cp, resources, tokenRecheckMs: 20 });
    await cp.createAtespace("a");
    await cp.createActor({ atespace: "a", name: "x" }, "default", "counter");
  });
  after(async () => {
    await api.close();
    await resources.close();
    await records.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("ends a tenant's token with its atespace: its watch ends, and the next team of that name is not its", async () => {
    await cp.createAtespace("team");
    const alice = await api.tenantToken("alice", "team");
    assert.equal((await call(alice, "Control/ListActors")).status, 200);
    const watch = await fetch(`${api.url}${apis}/namespaces/default/actortemplates?watch=1`, {
      headers: auth(alice),
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(watch.status, 200);

    await cp.deleteAtespace("team");
    // The open watch ends by itself within the recheck interval (the timeout is a guard).
    const reader = (watch.body as ReadableStream<Uint8Array>).getReader();
    for (;;) if ((await reader.read()).done) break;

    // Another team gets the name and puts an actor there.
    await cp.createAtespace("team");
    await cp.createActor({ atespace: "team", name: "their-secret" }, "default", "counter");
    const ref = { actorRef: { atespace: "team", name: "their-secret" } };
    for (const [method, body] of [
      ["Control/ListActors", {}],
      ["Control/GetActor", ref],
      ["Control/SuspendActor", ref],
      ["Admin/WhoAmI", {}],
    ] as const) {
      const r = await call(alice, method, body);
      assert.equal(r.status, 401, method);
      assert.match(String(r.body.message), /made for atespace team, which has since been deleted/);
    }
    const logs = await fetch(`${api.url}/ate/v1/atespaces/team/actors/their-secret/logs`, {
      headers: auth(alice),
    });
    assert.equal(logs.status, 401);
    const grpc = createClient(
      Control,
      createGrpcTransport({ baseUrl: api.url, interceptors: [bearer(alice)] }),
    );
    await assert.rejects(
      grpc.listActors({}),
      (e) => e instanceof ConnectError && e.code === ConnectCode.Unauthenticated,
    );
    // The new team's own token works.
    const bob = await api.tenantToken("bob", "team");
    assert.equal((await call(bob, "Control/GetActor", ref)).status, 200);
  });

  it("serves a log bigger than a node's piece whole, and ends a followed one whose reader stopped reading when its token is revoked", async () => {
    const pattern = "0123456789abcdef".repeat(4);
    const size = 3 * maxLogPieceBytes + 123;
    writeLog(identity("a", "x"), size, pattern);
    const tenant = await api.tenantToken("reader", "a");
    const whole = await fetch(`${api.url}/ate/v1/atespaces/a/actors/x/logs`, {
      headers: auth(tenant),
    });
    assert.equal(whole.status, 200);
    const text = await whole.text();
    assert.equal(text.length, size);
    assert.equal(text, pattern.repeat(Math.ceil(size / pattern.length)).slice(0, size));

    // Far more than HTTP/2's flow-control window: the server must wait for a reader that
    // does not read.
    writeLog(identity("a", "x"), 64 * maxLogPieceBytes);
    const staller = await api.tenantToken("staller", "a");
    const session = connect(api.url);
    try {
      const stream = session.request({
        ":path": "/ate/v1/atespaces/a/actors/x/logs?follow=true",
        ...auth(staller),
      });
      const [headers] = (await once(stream, "response")) as [Record<string, unknown>];
      assert.equal(headers[":status"], 200);
      stream.pause();
      let error: unknown;
      stream.on("error", (e) => {
        error = e;
      });
      const closed = new Promise((resolve) => stream.on("close", resolve));
      await api.tokens.delete("staller");
      const guard = AbortSignal.timeout(10_000);
      await Promise.race([
        closed,
        once(guard, "abort").then(() => assert.fail("the stalled log was not ended")),
      ]);
      // Reset: there is no orderly end for a reader that stopped reading.
      assert.notEqual(stream.rstCode, 0);
      assert.match(String(error), /NGHTTP2_INTERNAL_ERROR/);
    } finally {
      session.destroy();
    }
  });

  it("shows a tenant no other atespace's actors or logs, however the request spells it", async () => {
    await cp.createAtespace("b");
    for (const id of ["y1", "y2", "y3"])
      await cp.createActor({ atespace: "b", name: id }, "default", "counter");
    writeLog(identity("b", "y1"), 64, "their secret ");
    const tenant = await api.tenantToken("prober", "a");
    const raw = async (path: string) => {
      // As sent, not as a URL parser would tidy it.
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const url = new URL(api.url);
        const req = httpRequest(
          { host: url.hostname, port: url.port, path, headers: auth(tenant), agent: false },
          (r) => {
            let body = "";
            r.setEncoding("utf8");
            r.on("data", (c) => {
              body += c;
            });
            r.on("end", () => resolve({ status: r.statusCode ?? 0, body }));
          },
        );
        req.on("error", reject);
        req.end();
      });
      assert.ok(!res.body.includes("their secret"), `${path}: ${res.body}`);
      return res.status;
    };
    const logs = "/ate/v1/atespaces";
    assert.equal(await raw(`${logs}/b/actors/y1/logs`), 404);
    assert.equal(await raw(`${logs}/%62/actors/y1/logs`), 404);
    assert.equal(await raw(`${logs}/B/actors/y1/logs`), 400);
    assert.equal(await raw(`${logs}/a%2F..%2Fb/actors/y1/logs`), 400);
    assert.equal(await raw(`${logs}/a/actors/..%2F..%2Fb%2Factors%2Fy1/logs`), 400);
    assert.equal(await raw(`${logs}/a/actors/x/../../b/actors/y1/logs`), 404);
    assert.equal(await raw(`${logs}/a/actors/%2e%2e/y1/logs`), 404);
    assert.equal(await raw(`${logs}/ate-golden/actors/g/logs`), 404);
    assert.equal(await raw(`//x${logs}/b/actors/y1/logs`), 404);

    // Listings: its own atespace only, whatever it asks; no page of another listing.
    const page = await call(api.adminToken, "Control/ListActors", { atespace: "b", pageSize: 1 });
    const nextPageToken = String(page.body.nextPageToken);
    assert.ok(nextPageToken);
    const theirs = await call(tenant, "Control/ListActors", { pageToken: nextPageToken });
    assert.equal(theirs.status, 400);
    assert.match(String(theirs.body.message), /page_token: Invalid value/);
    const all = await call(api.adminToken, "Control/ListActors", { pageSize: 1 });
    const fromAll = await call(tenant, "Control/ListActors", {
      pageToken: String(all.body.nextPageToken),
    });
    assert.equal(fromAll.status, 400);
    for (const atespace of ["", "b", "B", "ate-golden"]) {
      const r = await call(tenant, "Control/ListActors", { atespace, pageSize: 1000 });
      const ids = ((r.body.actors ?? []) as { atespace: string }[]).map((a) => a.atespace);
      assert.ok(
        ids.every((a) => a === "a"),
        `${JSON.stringify(atespace)}: ${ids}`,
      );
    }
  });

  it("refuses the status subresource however its path is spelt", async () => {
    const templates = `${apis}/namespaces/default/actortemplates`;
    const counter = (await (
      await fetch(`${api.url}${templates}/counter`, { headers: auth(api.adminToken) })
    ).json()) as Record<string, unknown>;
    const body = JSON.stringify({
      ...counter,
      status: { phase: "Ready", goldenSnapshot: "file:///someone/elses" },
    });
    const put = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL(api.url);
        const req = httpRequest(
          {
            host: url.hostname,
            port: url.port,
            path,
            method: "PUT",
            headers: { "content-type": "application/json", ...auth(api.adminToken) },
            agent: false,
          },
          (r) => {
            r.resume();
            r.on("end", () => resolve(r.statusCode ?? 0));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    for (const path of [
      `${templates}/counter/status`,
      `${templates}/counter/status/`,
      `${templates}/counter//status`,
      `${templates.replace("/namespaces", "//namespaces")}/counter/status`,
      `${templates}/counter/%73tatus`,
      `${templates}/counter/./status`,
      `${templates}/counter/x/../status`,
      `${templates.replace("actortemplates", "ActorTemplates")}/counter/status`,
      `${templates.replace("actortemplates", "actortemplate")}/counter/status`,
      `${templates.replace("actortemplates", "actortemplates.ate.dev")}/counter/status`,
    ])
      assert.equal(await put(path), 403, path);
    for (const path of [`${templates}/counter/STATUS`, `${templates}/counter/status%2F`])
      assert.equal(await put(path), 404, path);
    const after = await (
      await fetch(`${api.url}${templates}/counter`, { headers: auth(api.adminToken) })
    ).json();
    assert.equal((after as { status?: unknown }).status, undefined, "no status was written");
  });

  it("refuses an authorization header that only starts like a valid one", async () => {
    const token = await api.tenantToken("padded", "a");
    for (const header of [
      `Bearer ${token}${" ".repeat(200)}junk`,
      `Bearer ${token} junk`,
      `Bearer ${token},Bearer ${token}`,
      `Basic ${token}`,
      `Bearer\t${token}`,
    ]) {
      const connectRes = await fetch(`${api.url}/ateapi.Control/ListActors`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: header },
        body: "{}",
      });
      assert.equal(connectRes.status, 401, JSON.stringify(header));
      const restRes = await fetch(`${api.url}${apis}/namespaces/default/actortemplates`, {
        headers: { authorization: header },
      });
      assert.equal(restRes.status, 401, JSON.stringify(header));
    }
    // Two headers: Node would keep the first, a proxy in front may have judged by the last.
    const url = new URL(api.url);
    for (const [first, second] of [
      [token, api.adminToken],
      [api.adminToken, token],
    ]) {
      const socket = netConnect(Number(url.port), url.hostname);
      socket.end(
        `POST /ateapi.Control/ListWorkers HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\nauthorization: Bearer ${first}\r\nAuthorization: Bearer ${second}\r\nconnection: close\r\n\r\n{}`,
      );
      let answer = "";
      socket.setEncoding("utf8");
      socket.on("data", (c) => {
        answer += c;
      });
      await once(socket, "close");
      assert.match(answer, /^HTTP\/1\.1 401 /);
      assert.match(answer, /several authorization headers/);
    }
    // The scheme in any case, as RFC 9110 has it.
    assert.equal((await call(token, "Control/ListActors")).status, 200);
    const lower = await fetch(`${api.url}${apis}/namespaces/default/actortemplates`, {
      headers: { authorization: `bearer ${token}` },
    });
    assert.equal(lower.status, 200);
  });

  it("writes only the object the path names, never another one the body names", async () => {
    const templates = `${apis}/namespaces/default/actortemplates`;
    const get = async (name: string) =>
      (await fetch(`${api.url}${templates}/${name}`, { headers: auth(api.adminToken) })).json();
    const counter = (await get("counter")) as { metadata: { resourceVersion: string } };
    for (const path of [`${templates}/other`, `${templates}/other/status`]) {
      const res = await fetch(`${api.url}${path}`, {
        method: "PUT",
        headers: { "content-type": "application/json", ...auth(api.adminToken) },
        body: JSON.stringify(counter),
      });
      // The status path is refused before its body is read; the other names the mismatch.
      if (path.endsWith("/status")) assert.equal(res.status, 403, path);
      else {
        assert.equal(res.status, 400, path);
        assert.match(
          ((await res.json()) as { message: string }).message,
          /metadata.name "counter" does not match the name in the path \("other"\)/,
        );
      }
    }
    const renamed = await fetch(`${api.url}${templates}/counter%2Fstatus`, {
      method: "PUT",
      headers: { "content-type": "application/json", ...auth(api.adminToken) },
      body: JSON.stringify(counter),
    });
    assert.equal(renamed.status, 400, "an encoded slash is part of a name, not a path");
    assert.equal(
      ((await get("counter")) as { metadata: { resourceVersion: string } }).metadata
        .resourceVersion,
      counter.metadata.resourceVersion,
      "counter untouched",
    );
  });
});
