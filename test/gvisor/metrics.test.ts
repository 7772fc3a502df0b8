// Metrics end to end on real runsc, in the all-in-one substrate: a counter actor activated
// through the router, suspended and activated again moves the control plane's transition
// histograms, the node's checkpoint/restore histograms and snapshot byte counters, and the
// router's activation histogram, all on one /metrics page (the router's port, unauthenticated;
// the API's, with the admin token).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/log/index.ts";
import { type AteClient, connect } from "../../src/sdk/index.ts";
import { counterSubstrate } from "../support/counter-substrate.ts";

/** The value of one sample line (`name{labels} value`), 0 when absent. */
function sample(page: string, series: string): number {
  const line = page.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe("metrics on gvisor", { timeout: 600_000 }, () => {
  it("resume, checkpoint, restore and activation histograms move; the API shows every component, the router only its own", async () => {
    const { ate } = await counterSubstrate({
      tmpPrefix: "ate-metrics-",
      replicas: 2,
      logger: silentLogger,
    });
    const cp = ate.controlPlane;
    await cp.createAtespace("demo");
    await cp.createActor({ atespace: "demo", name: "m1" }, "default", "counter");
    const client: AteClient = connect({
      server: ate.apiUrl,
      router: ate.routerUrl,
      token: ate.credential.token,
      atespace: "demo",
    });
    const scrape = async (url: string, token?: string) => {
      const res = await fetch(`${url}/metrics`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      assert.equal(res.status, 200, `${url}/metrics`);
      return res.text();
    };
    const before = await scrape(ate.apiUrl, ate.credential.token);

    const count = async () => {
      const res = await client.actor("m1").fetch("/count");
      assert.equal(res.status, 200);
      return (await res.json()) as { memory: number };
    };
    assert.equal((await count()).memory, 1); // activated by the request: a resume
    await cp.suspendActor({ atespace: "demo", name: "m1" }); // checkpoint + upload
    assert.equal((await count()).memory, 2); // activated again: a restore from the snapshot

    const page = await scrape(ate.apiUrl, ate.credential.token);
    const moved = (series: string) => sample(page, series) - sample(before, series);
    assert.ok(moved('ate_actor_transitions_total{kind="resume",result="ok"}') >= 2, page);
    assert.ok(moved('ate_actor_transition_seconds_count{kind="resume",result="ok"}') >= 2);
    assert.equal(moved('ate_actor_transition_seconds_count{kind="suspend",result="ok"}'), 1);
    assert.equal(moved('ate_node_checkpoint_seconds_count{kind="suspend",result="ok"}'), 1);
    assert.ok(moved('ate_node_restore_seconds_count{result="ok"}') >= 1);
    assert.ok(moved("ate_snapshot_written_bytes_total") > 0);
    assert.ok(moved("ate_snapshot_read_bytes_total") > 0);
    assert.equal(moved("ate_router_activation_seconds_count"), 2);
    assert.ok(sample(page, 'ate_workers{namespace="default",pool="pool",state="assigned"}') >= 1);

    // The router's open port: its own metrics, none of the control plane's or the node's.
    const fromRouter = await scrape(ate.routerUrl);
    assert.match(fromRouter, /^# TYPE ate_router_activation_seconds /m);
    assert.doesNotMatch(fromRouter, /^ate_(actor|workers|node|snapshot|gc)_/m);
  });
});
