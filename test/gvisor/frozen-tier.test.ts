// The frozen tier with real runsc, in the all-in-one substrate: an idle actor is paused in
// place (RUNNING, tier frozen), a request thaws it with its memory intact, and a worker needed
// by another actor is taken from the frozen one by a checkpoint it later resumes from. No
// one else thaws it: not another tenant through the API, nor a node call naming another actor.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { adminClient, controlClient } from "../../src/cli/control-client.ts";
import { actorTable } from "../../src/cli/record-printers.ts";
import { identityOf } from "../../src/controlplane/transitions.ts";
import { actorToWire } from "../../src/controlplane/wire.ts";
import { Code, isAteError } from "../../src/errors/index.ts";
import { silentLogger } from "../../src/log/index.ts";
import { type RunningSubstrate, startSubstrate } from "../../src/up/index.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { applyCounterSetup, waitForGolden } from "../support/counter-resources.ts";
import { removeLeftoverWorkers } from "../support/leftover-workers.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

describe("frozen tier with gvisor workers", { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-frozen-"));
  const nodeDir = join(dir, "state", "node");
  let registry: RunningRegistry;
  let ate: RunningSubstrate;
  const network = { prefix: "atfz", subnetBase: 196, subnets: 1 };
  const ref = (name: string) => ({ atespace: "demo", name });
  const count = (actor: string) =>
    new Promise<{ memory: number; file: number; actor: string }>((resolve, reject) => {
      const url = new URL(ate.routerUrl);
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: "/count",
          headers: { host: `${actor}.demo.actors.resources.substrate.ate.dev` },
          agent: false,
        },
        (res) => {
          let body = "";
          res.on("data", (c) => {
            body += c;
          });
          res.on("end", () =>
            res.statusCode === 200
              ? resolve(JSON.parse(body))
              : reject(new Error(`${res.statusCode}: ${body}`)),
          );
        },
      );
      req.on("error", reject);
      req.end();
    });
  /**
   * What runsc itself says of the worker's current sandbox (`<worker>-s<hex>`): by `runsc
   * list`, as a former sandbox of the worker may still be being deleted in the background
   * (its id shares the prefix, so `runsc state <worker>` would be ambiguous then).
   */
  const sandboxState = (worker: string) => {
    const all = JSON.parse(
      execFileSync(
        "/usr/bin/runsc",
        [`--root=${join(nodeDir, "runsc")}`, "list", "-format", "json"],
        {
          encoding: "utf8",
        },
      ) || "[]",
    ) as { id: string; status: string }[] | null;
    const mine = (all ?? []).filter((c) => c.id === worker || c.id.startsWith(`${worker}-s`));
    // A former one is stopped (or gone): the worker's current sandbox is the one not stopped.
    return mine.find((c) => c.status !== "stopped")?.status ?? mine[0]?.status ?? "none";
  };
  const frozenSoon = async (actor: string) => {
    for (const deadline = Date.now() + 30_000; ; await sleep(100)) {
      const a = await ate.controlPlane.getActor(ref(actor));
      if (a.tier === "frozen" && a.worker && sandboxState(a.worker.name) === "paused") return a;
      assert.ok(Date.now() < deadline, `${actor} frozen within 30 s (now ${a.status} ${a.tier})`);
    }
  };
  /** A thaw answers once the sandbox runs; its mark comes off just after. */
  const unmarkedSoon = async (actor: string) => {
    for (const deadline = Date.now() + 10_000; ; await sleep(20)) {
      const a = await ate.controlPlane.getActor(ref(actor));
      if (a.tier === undefined) return a;
      assert.ok(Date.now() < deadline, `${actor}'s frozen mark off within 10 s`);
    }
  };

  before(async () => {
    registry = await startRegistry();
    ate = await startSubstrate({
      runsc: false, // applyCounterSetup declares the runtime
      stateDir: join(dir, "state"),
      apiAddr: "127.0.0.1:0",
      routerAddr: "127.0.0.1:0",
      nodeName: "node-1",
      network,
      idleTimeoutMs: 0,
      logger: silentLogger,
    });
    const image = await pushCounterImage(registry.host);
    await applyCounterSetup(ate.resources, {
      image,
      snapshotsDir: join(dir, "snapshots"),
      replicas: 1,
      templates: { counter: { "ate.dev/freeze-after-idle": "1s" } },
    });
    await waitForGolden(ate.resources, ["counter"]);
    await ate.controlPlane.createAtespace("demo");
  });

  after(async () => {
    await ate?.stop().catch(() => {});
    await removeLeftoverWorkers(nodeDir, network);
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("freezes an idle actor in place and thaws it on a request, its memory intact", async () => {
    await ate.controlPlane.createActor(ref("a"), "default", "counter");
    assert.deepEqual(await count("a"), { memory: 1, file: 1, actor: "a" });
    const running = await ate.controlPlane.getActor(ref("a"));
    const frozen = await frozenSoon("a");
    assert.equal(frozen.status, "RUNNING", "clients see no new status");
    assert.equal(frozen.worker?.name, running.worker?.name, "it keeps its worker");
    const wide = actorTable([actorToWire(frozen)], true);
    assert.match(wide, /TIER/);
    assert.match(wide, /\bRUNNING\b.*\bfrozen\b/);
    assert.deepEqual(await count("a"), { memory: 2, file: 2, actor: "a" });
    const thawed = await unmarkedSoon("a");
    assert.equal(sandboxState(thawed.worker?.name as string), "running");
    assert.match(actorTable([actorToWire(thawed)], true), /\bRUNNING\b.*\brunning\b/);
  });

  it("refuses another tenant's thaw, and a node thaw or freeze naming another actor; it stays frozen", async () => {
    let frozen = await frozenSoon("a");
    // The freeze confirms its mark after the pause (a new version): wait until it settles.
    for (;;) {
      await sleep(300);
      const now = await ate.controlPlane.getActor(ref("a"));
      if (now.version === frozen.version) break;
      frozen = now;
    }
    const worker = frozen.worker?.name as string;
    await ate.controlPlane.createAtespace("other");
    const admin = adminClient(ate.apiUrl, ate.credential.token);
    const { secret } = await admin.createToken({ name: "other-tenant", atespace: "other" });
    const other = controlClient(ate.apiUrl, secret);
    const notFound = (e: unknown) => isAteError(e, Code.NotFound);
    // As the other verbs answer it: as if the actor did not exist.
    await assert.rejects(other.getActor({ actorRef: ref("a") }), notFound);
    await assert.rejects(other.resumeActor({ actorRef: ref("a") }), notFound);
    await assert.rejects(other.suspendActor({ actorRef: ref("a") }), notFound);
    // The node thaws or freezes only the sandbox of the actor named.
    const refused = (e: unknown) =>
      isAteError(e, Code.FailedPrecondition) && /runs actor demo\/a, not /.test(String(e));
    const a = identityOf(frozen);
    for (const actor of [
      { ...a, atespace: "other" },
      { ...a, actorId: "b" },
    ]) {
      await assert.rejects(ate.agent.thaw({ worker, actor }), refused);
      await assert.rejects(ate.agent.freeze({ worker, actor }), refused);
    }
    assert.equal(sandboxState(worker), "paused", "still paused");
    const still = await ate.controlPlane.getActor(ref("a"));
    assert.equal(still.tier, "frozen");
    assert.equal(still.version, frozen.version, "its record untouched");
  });

  it("gives a frozen actor's worker to another by a checkpoint; it later resumes with its memory", async () => {
    await frozenSoon("a");
    await ate.controlPlane.createActor(ref("b"), "default", "counter");
    // One worker: b's request evicts the frozen a (a checkpoint of its paused sandbox).
    assert.deepEqual(await count("b"), { memory: 1, file: 1, actor: "b" });
    const a = await ate.controlPlane.getActor(ref("a"));
    assert.equal(a.status, "SUSPENDED");
    assert.equal(a.tier, undefined);
    assert.deepEqual(await count("a"), { memory: 3, file: 3, actor: "a" });
    // An API suspend of a frozen actor works the same way.
    await frozenSoon("a");
    assert.equal((await ate.controlPlane.suspendActor(ref("a"))).status, "SUSPENDED");
    assert.deepEqual(await count("a"), { memory: 4, file: 4, actor: "a" });
  });
});
