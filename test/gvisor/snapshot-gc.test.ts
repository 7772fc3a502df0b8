// Snapshot ownership on real sandboxes: a counter suspended and resumed a few times keeps
// counting (each resume restores the snapshot the last suspend wrote) while its snapshots'
// bytes stay those of one snapshot (history 1); ate gc then removes nothing it owns, and
// DeleteActor takes the rest.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { openBlobStore } from "../../src/blob/index.ts";
import { collectGarbage } from "../../src/controlplane/index.ts";
import { counterSubstrate } from "../support/counter-substrate.ts";
import { getJson } from "../support/http.ts";

describe("snapshot gc", { timeout: 600_000 }, () => {
  it("an actor's snapshots stay one snapshot's bytes across suspends, and go at delete", async () => {
    const bed = await counterSubstrate({ tmpPrefix: "ate-gc-", replicas: 2 });
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
    await bed.stop();
  });
});
