// Stopping the substrate while a golden snapshot is being made: every controller is stopped
// and awaited before the stores close, the golden actor is not left on a worker, no worker's
// namespaces or sandbox stay behind, and the next start makes the golden snapshot.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ActorTemplateType } from "../../src/api/v1alpha1/index.ts";
import { goldenActorId } from "../../src/controller/index.ts";
import { goldenAtespace } from "../../src/controlplane/index.ts";
import type { Logger } from "../../src/log/index.ts";
import { openRecordStore, Records } from "../../src/records/index.ts";
import { openResourceStore } from "../../src/resources/index.ts";
import { type RunningSubstrate, startSubstrate } from "../../src/up/index.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { applyCounterSetup, waitForGolden } from "../support/counter-resources.ts";
import { removeLeftoverWorkers } from "../support/leftover-workers.ts";
import { sandboxesUnder, workerNetworkNames } from "../support/machine-workers.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

interface Line {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
  /** Logged after the substrate's stop() returned (its stores closed). */
  late: boolean;
}

describe("stopping during a golden boot", { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-golden-stop-"));
  const stateDir = join(dir, "state");
  const golden = { atespace: goldenAtespace, name: goldenActorId("default", "counter") };
  let registry: RunningRegistry | undefined;
  let ate: RunningSubstrate | undefined;
  let prefix = "";

  const start = (lines: Line[], closed: { now: boolean }) => {
    const at =
      (level: string) =>
      (msg: string, fields: Record<string, unknown> = {}) =>
        lines.push({ level, msg, fields, late: closed.now });
    const logger: Logger = {
      debug: at("debug"),
      info: at("info"),
      warn: at("warn"),
      error: at("error"),
    };
    return startSubstrate({
      runsc: false, // applyCounterSetup declares the runtime
      stateDir,
      apiAddr: "127.0.0.1:0",
      routerAddr: "127.0.0.1:0",
      nodeName: "node-1",
      idleTimeoutMs: 0,
      logger,
    });
  };

  after(async () => {
    await ate?.stop().catch(() => {});
    if (prefix) await removeLeftoverWorkers(join(stateDir, "node"), { prefix });
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("leaves nothing running or behind, logs nothing after the stores closed, and the next start makes the snapshot", async () => {
    registry = await startRegistry();
    const image = await pushCounterImage(registry.host);
    const first: Line[] = [];
    const firstClosed = { now: false };
    ate = await start(first, firstClosed);
    prefix = ate.network.prefix;
    await applyCounterSetup(ate.resources, {
      image,
      snapshotsDir: join(dir, "snapshots"),
      replicas: 1,
    });
    // Wait for the golden actor's boot to be under way (it holds a worker while RESUMING).
    let status = "";
    for (let i = 0; i < 6000 && status !== "RESUMING"; i++) {
      status = await ate.controlPlane.getActor(golden).then(
        (a) => a.status,
        () => "",
      );
      if (status === "RUNNING" || status === "SUSPENDING")
        assert.fail(`the golden boot finished before the test could stop it (${status})`);
      if (status !== "RESUMING") await sleep(5);
    }
    assert.equal(status, "RESUMING");

    const result = await ate.stop();
    firstClosed.now = true;
    ate = undefined;
    assert.deepEqual(result.left, [], "no actor left on its worker");
    assert.deepEqual(result.suspended, [], "the golden actor is not suspended (no snapshot)");
    assert.deepEqual(workerNetworkNames(prefix), [], "no worker namespaces or links left");
    assert.deepEqual(sandboxesUnder(join(stateDir, "node")), [], "no sandbox left");
    const say = first.map((l) => `${l.level} ${l.msg} ${JSON.stringify(l.fields)}`).join("\n");
    assert.ok(
      first.some((l) => l.msg === "stopped"),
      `the stop is logged:\n${say}`,
    );
    assert.ok(!/database connection is not open/.test(say), say);
    assert.ok(!first.some((l) => l.msg === "golden snapshot failed"), say);
    assert.ok(
      first.some(
        (l) => l.msg === "golden snapshot interrupted by shutdown; made on the next start",
      ),
      say,
    );

    // What the stores hold now: the golden actor suspended, no worker, the template unfinished.
    const records = new Records(openRecordStore(undefined, stateDir));
    const resources = openResourceStore({ home: stateDir });
    try {
      const actor = await records.getActor(golden.atespace, golden.name);
      assert.equal(actor.status, "SUSPENDED");
      assert.equal(actor.worker, undefined);
      assert.equal(actor.transition, undefined);
      assert.deepEqual(await records.listWorkers(), []);
      const template = await resources.get(ActorTemplateType, "default", "counter");
      assert.ok(
        template.status?.phase !== "Ready" && template.status?.phase !== "Failed",
        `retried on the next start, not failed: ${JSON.stringify(template.status)}`,
      );
    } finally {
      await records.store.close();
      await resources.close();
    }

    // The next start makes the golden snapshot, with the same worker network.
    const second: Line[] = [];
    const secondClosed = { now: false };
    ate = await start(second, secondClosed);
    assert.equal(ate.network.prefix, prefix);
    await waitForGolden(ate.resources, ["counter"], 120_000);
    const stopped = await ate.stop();
    secondClosed.now = true;
    ate = undefined;
    assert.deepEqual(stopped.left, []);
    assert.deepEqual(workerNetworkNames(prefix), []);
    // Whatever the first instance still had running would have logged by now.
    assert.deepEqual(
      first.filter((l) => l.late).map((l) => l.msg),
      [],
      "the first instance logged nothing after its stores closed",
    );
    assert.deepEqual(
      second.filter((l) => l.late).map((l) => l.msg),
      [],
    );
  });
});
