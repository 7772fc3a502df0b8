// The API's /metrics: the control plane's transitions and workers in Prometheus form after
// real calls (on a no-op node), and who may read them.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { auth, startTestApi, type TestApi } from "../../test/support/api-server.ts";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { declareNoopPool } from "../../test/support/noop-pool.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";

describe("API /metrics", () => {
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new NoopNodeAgent();
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
  });
  // A second control plane in the same process: each has its own registry, no collision.
  const other = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({}) });
  let api: TestApi;
  const scrape = async (token?: string, method = "GET") => {
    const res = await fetch(`${api.url}/metrics`, {
      method,
      headers: token ? auth(token) : {},
    });
    return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
  };

  before(async () => {
    await declareNoopPool(resources, records, agent, { replicas: 2 });
    api = await startTestApi({ controlPlane: cp, resources });
    await cp.createAtespace("t");
    await cp.createActor({ atespace: "t", name: "a" }, "default", "counter");
  });
  after(async () => {
    await api.close();
    await records.store.close();
    await resources.close();
  });

  it("counts and times transitions by kind and result, and workers per pool", async () => {
    await cp.resumeActor({ atespace: "t", name: "a" });
    let m = await scrape(api.adminToken);
    assert.equal(m.status, 200);
    assert.match(m.type ?? "", /^text\/plain; version=0\.0\.4/);
    assert.match(m.body, /^ate_workers\{namespace="default",pool="pool",state="assigned"\} 1$/m);
    assert.match(m.body, /^ate_workers\{namespace="default",pool="pool",state="free"\} 1$/m);
    await cp.suspendActor({ atespace: "t", name: "a" });
    await assert.rejects(cp.resumeActor({ atespace: "t", name: "nobody" }));
    m = await scrape(api.adminToken);
    assert.match(m.body, /^# TYPE ate_actor_transitions_total counter$/m);
    assert.match(m.body, /^ate_actor_transitions_total\{kind="resume",result="ok"\} 1$/m);
    assert.match(m.body, /^ate_actor_transitions_total\{kind="suspend",result="ok"\} 1$/m);
    assert.match(m.body, /^ate_actor_transitions_total\{kind="resume",result="not_found"\} 1$/m);
    assert.match(m.body, /^# TYPE ate_actor_transition_seconds histogram$/m);
    assert.match(m.body, /^ate_actor_transition_seconds_count\{kind="suspend",result="ok"\} 1$/m);
    assert.match(m.body, /^ate_workers\{namespace="default",pool="pool",state="free"\} 2$/m);
    assert.match(m.body, /^# TYPE ate_gc_removed_bytes_total counter$/m);
    // The other control plane counted nothing of this one's.
    assert.doesNotMatch(await other.metrics.registry.metrics(), /kind="resume"/);
  });

  it("counts garbage collection's removals (the collector calls gcRemovedObjects)", async () => {
    cp.metrics.gcRemovedObjects("snapshot", 3, 4096);
    const m = await scrape(api.adminToken);
    assert.match(m.body, /^ate_gc_removed_total\{what="snapshot"\} 3$/m);
    assert.match(m.body, /^ate_gc_removed_bytes_total\{what="snapshot"\} 4096$/m);
  });

  it("needs a token with the metrics right: admin, node or router, not a tenant", async () => {
    assert.equal((await scrape()).status, 401);
    const tenant = await scrape(await api.tenantToken("alice", "t"));
    assert.equal(tenant.status, 403);
    assert.match(
      (JSON.parse(tenant.body) as { message: string }).message,
      /^token "alice" \(tenant of atespace t\) may not read \/metrics: it needs an admin, node or router token$/,
    );
    const { text: router } = await api.tokens.create({ name: "prometheus", role: "router" });
    assert.equal((await scrape(router)).status, 200);
    const post = await scrape(api.adminToken, "POST");
    assert.equal(post.status, 400);
    assert.match(post.body, /method: POST is not allowed on \/metrics/);
  });
});
