// Snapshot tags and forks on real sandboxes: A counts to 3 and is tagged; B, created from the
// tag, starts at A's count with its own identity (/run/ate/actor-id says b) and from then on
// A and B count separately. Another atespace may start from the tag only once it is published.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, isAteError } from "../../src/errors/index.ts";
import { counterSubstrate } from "../support/counter-substrate.ts";
import { getJson } from "../support/http.ts";
import { workerNetworkNames } from "../support/machine-workers.ts";

describe("snapshot tags and forks", { timeout: 600_000 }, () => {
  it("B starts from A's tagged count as itself; then both count separately", async () => {
    const bed = await counterSubstrate({ tmpPrefix: "ate-tags-", replicas: 3 });
    const { setup } = bed;
    const cp = bed.ate.controlPlane;
    const prefix = bed.ate.network.prefix;
    const ref = (atespace: string, name: string) => ({ atespace, name });
    const count = async (atespace: string, name: string) => {
      const a = await cp.getActor(ref(atespace, name));
      if (a.status !== "RUNNING") await cp.resumeActor(ref(atespace, name));
      const at = (await cp.getActor(ref(atespace, name))).worker?.address;
      return getJson<{ memory: number; file: number; actor: string }>(`http://${at}:8080/count`);
    };
    await cp.createAtespace("demo");
    await cp.createAtespace("other");
    await cp.createActor(ref("demo", "a"), "default", "counter");
    for (let i = 0; i < 3; i++) await count("demo", "a");
    await cp.suspendActor(ref("demo", "a"));
    const tag = await cp.snapshotTags.create(ref("demo", "three"), ref("demo", "a"), "ATESPACE");
    assert.ok(tag.snapshot.uri.startsWith(`file://${setup.snapshotsDir}/_tags/demo/three/`));

    await cp.createActor(ref("demo", "b"), "default", "counter", undefined, ref("demo", "three"));
    assert.deepEqual(await count("demo", "b"), { memory: 4, file: 4, actor: "b" });
    assert.deepEqual(await count("demo", "a"), { memory: 4, file: 4, actor: "a" });
    assert.deepEqual(await count("demo", "b"), { memory: 5, file: 5, actor: "b" });
    assert.deepEqual(await count("demo", "a"), { memory: 5, file: 5, actor: "a" });

    // Another atespace: refused while the tag is the atespace's own, taken once published.
    await assert.rejects(
      cp.createActor(ref("other", "c"), "default", "counter", undefined, ref("demo", "three")),
      (e) =>
        isAteError(e, Code.NotFound) && /demo\/three not found, or not published/.test(e.message),
    );
    await cp.snapshotTags.create(ref("demo", "pub"), ref("demo", "a"), "PUBLISHED");
    // b gives c its worker, and later resumes from its own suspend.
    await cp.suspendActor(ref("demo", "b"));
    await cp.createActor(ref("other", "c"), "default", "counter", undefined, ref("demo", "pub"));
    assert.equal((await count("other", "c")).actor, "c");

    // Deleting the tags leaves the forks their own snapshots.
    await cp.snapshotTags.delete(ref("demo", "three"));
    await cp.snapshotTags.delete(ref("demo", "pub"));
    assert.deepEqual(await count("demo", "b"), { memory: 6, file: 6, actor: "b" });

    const stopped = await bed.stop();
    assert.deepEqual(stopped.left, []);
    for (let i = 0; i < 100 && workerNetworkNames(prefix).length; i++) await sleep(100);
    assert.deepEqual(workerNetworkNames(prefix), []);
  });
});
