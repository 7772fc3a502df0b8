// Snapshot ownership on real sandboxes: a counter suspended and resumed a few times keeps
// counting (each resume restores the snapshot the last suspend wrote) while its snapshots'
// bytes stay those of one snapshot (history 1); ate gc then removes nothing it owns, and
// DeleteActor takes the rest. A paused actor's snapshot stays on its node only until the next
// pause or suspend supersedes it.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { openBlobStore } from "../../src/blob/index.ts";
import { collectGarbage } from "../../src/controlplane/index.ts";
import { type CounterSubstrate, counterSubstrate } from "../support/counter-substrate.ts";
import { getJson } from "../support/http.ts";

describe("snapshot gc", { timeout: 600_000 }, () => {
  // One substrate for both (its clean-up is registered with the test that starts it).
  it("bounds an actor's snapshots on storage and on its node, and removes them at delete", async () => {
    const bed = await counterSubstrate({ tmpPrefix: "ate-gc-", replicas: 2 });
    await suspends(bed);
    await pauses(bed);
    await bed.stop();
  });
});

/** An actor's snapshots stay one snapshot's bytes across suspends, and go at delete. */
async function suspends(bed: CounterSubstrate): Promise<void> {
  const { ate } = bed;
  const { snapshotsDir } = bed.setup;
  const cp = ate.controlPlane;
  const ref = { atespace: "demo", name: "a" };
  const actorBytes = async () =>
    (await openBlobStore(pathToFileURL(snapshotsDir).href).list("demo/a/")).reduce(
      (n, b) => n + b.size,
      0,
    );
  await cp.createAtespace("demo");
  await cp.createActor(ref, "default", "counter");
  const sizes: number[] = [];
  for (let i = 1; i <= 4; i++) {
    await cp.resumeActor(ref);
    const at = (await cp.getActor(ref)).worker?.address;
    const n = await getJson<{ memory: number }>(`http://${at}:8080/count`);
    assert.equal(n.memory, i, "each resume continues from the last suspend");
    const s = await cp.suspendActor(ref);
    assert.equal(s.snapshots?.length, 1);
    sizes.push(await actorBytes());
  }
  // One snapshot's worth each time (memory images vary a little), never a growing sum.
  assert.ok(Math.max(...sizes) < 1.5 * Math.min(...sizes), `bytes ${sizes.join(", ")}`);
  const report = await collectGarbage({
    records: ate.controlPlane.records,
    resources: ate.resources,
    graceMs: 0,
  });
  assert.ok(!report.removals.some((r) => r.uri.includes("/demo/a/")), "nothing owned removed");
  await cp.resumeActor(ref);
  await cp.suspendActor(ref);
  await cp.deleteActor(ref);
  assert.equal(await actorBytes(), 0);
}

/** Only the newest paused snapshot stays on the node, and none once suspended or deleted. */
async function pauses(bed: CounterSubstrate): Promise<void> {
  const cp = bed.ate.controlPlane;
  const ref = { atespace: "demo", name: "p" };
  // The node's own snapshots of the actor: one directory each (state/node/snapshots).
  const onNode = () => {
    try {
      return readdirSync(join(bed.dir, "state", "node", "snapshots", "demo", "p"));
    } catch {
      return [];
    }
  };
  const count = async () => {
    const at = (await cp.getActor(ref)).worker?.address;
    return (await getJson<{ memory: number }>(`http://${at}:8080/count`)).memory;
  };
  await cp.createAtespace("demo").catch(() => {});
  await cp.createActor(ref, "default", "counter");
  await cp.resumeActor(ref);
  assert.equal(await count(), 1);
  const first = await cp.pauseActor(ref);
  assert.equal(first.latestSnapshot?.type, "LOCAL");
  assert.equal(onNode().length, 1);
  for (let i = 2; i <= 3; i++) {
    await cp.resumeActor(ref);
    assert.equal(await count(), i, "each resume continues from the last pause");
    const paused = await cp.pauseActor(ref);
    const names = onNode();
    assert.deepEqual(names, [paused.latestSnapshot?.uri.split("/").pop()], "only the newest");
  }
  await cp.resumeActor(ref);
  assert.equal(await count(), 4);
  await cp.suspendActor(ref);
  assert.deepEqual(onNode(), [], "a suspend supersedes the paused snapshot");
  await cp.deleteActor(ref);
  assert.deepEqual(onNode(), []);
  const left = await openBlobStore(pathToFileURL(bed.setup.snapshotsDir).href).list("demo/p/");
  assert.deepEqual(left, [], "its external snapshot went at delete");
}
