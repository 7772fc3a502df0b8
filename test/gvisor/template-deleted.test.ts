// Deleting an ActorTemplate while its actors run strands none of them: suspend, pause and
// delete work without it (what a checkpoint needs is in the actor record), a resume is refused
// naming the template, and once it is applied again the actors go on with their state.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ActorTemplateType } from "../../src/api/v1alpha1/index.ts";
import { Code, isAteError } from "../../src/errors/index.ts";
import { counterTemplate } from "../support/counter-resources.ts";
import { counterSubstrate } from "../support/counter-substrate.ts";
import { getJson } from "../support/http.ts";
import { workerNetworkNames } from "../support/machine-workers.ts";

describe("actors whose template was deleted", { timeout: 600_000 }, () => {
  it("suspend, pause and delete without it; resume is refused naming it until it is back", async () => {
    const bed = await counterSubstrate({ tmpPrefix: "ate-tpl-gone-", replicas: 2 });
    const { ate, setup } = bed;
    const cp = ate.controlPlane;
    const prefix = ate.network.prefix;
    const ref = (name: string) => ({ atespace: "demo", name });
    const count = async (name: string) =>
      getJson<{ memory: number; file: number }>(
        `http://${(await cp.getActor(ref(name))).worker?.address}:8080/count`,
      );
    await cp.createAtespace("demo");
    for (const name of ["a1", "a2"]) {
      await cp.createActor(ref(name), "default", "counter");
      await cp.resumeActor(ref(name));
      await count(name);
    }

    await ate.resources.delete(ActorTemplateType, "default", "counter");
    const suspended = await cp.suspendActor(ref("a1"));
    assert.equal(suspended.status, "SUSPENDED");
    assert.ok(suspended.latestSnapshot?.uri.startsWith(`file://${setup.snapshotsDir}/demo/a1/`));
    const paused = await cp.pauseActor(ref("a2"));
    assert.equal(paused.status, "PAUSED");
    await assert.rejects(
      cp.resumeActor(ref("a2")),
      (e) =>
        isAteError(e, Code.FailedPrecondition) &&
        e.message.startsWith("ActorTemplate default/counter no longer exists: "),
    );
    assert.equal((await cp.getActor(ref("a2"))).status, "PAUSED", "unchanged by the refusal");
    await cp.deleteActor(ref("a1"));
    assert.equal((await cp.listWorkers()).filter((w) => w.actor).length, 0, "workers free");

    // Applied again, the template takes its actor back where it was.
    await ate.resources.create(ActorTemplateType, counterTemplate("counter", setup));
    await cp.resumeActor(ref("a2"));
    assert.deepEqual(await count("a2"), { memory: 2, file: 2, actor: "a2" });

    const stopped = await bed.stop();
    assert.deepEqual(stopped.left, []);
    // The kernel lets go of a namespace's links once its last process has exited: give it a moment.
    for (let i = 0; i < 100 && workerNetworkNames(prefix).length; i++) await sleep(100);
    assert.deepEqual(workerNetworkNames(prefix), []);
  });
});
