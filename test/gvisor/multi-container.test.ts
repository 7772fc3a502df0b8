// Several containers in one actor's sandbox (issue 14 point 1), against real runsc: two
// counters and a probe, each its own image, command, env and readyz, share the sandbox's
// localhost and one durableDir; a suspend to another worker keeps every container's memory;
// a snapshot restores only into the containers it was taken with; 11 containers are refused.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { validateResource } from "../../src/api/schema/validate-resource.ts";
import { actorTemplate } from "../../src/api/testing.ts";
import { ActorTemplateType } from "../../src/api/v1alpha1/index.ts";
import {
  type ActorIdentity,
  NodeAgent,
  type SandboxAssets,
  type Workload,
} from "../../src/node/index.ts";
import { GvisorDriver } from "../../src/sandbox/index.ts";
import { getJson } from "../support/http.ts";
import { pushNodeImage } from "../support/node-image.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

describe("an actor of several containers", { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-multi-"));
  const state = join(dir, "state");
  const driver = new GvisorDriver({
    stateDir: state,
    network: { prefix: "atemc", subnetBase: 253, subnets: 1 },
  });
  const runsc = join(dir, "runsc");
  copyFileSync("/usr/bin/runsc", runsc);
  const agent = new NodeAgent({
    stateDir: state,
    drivers: [driver],
    drainTimeoutMs: 1000,
    assetDirs: [dir],
  });
  const sandboxAssets: SandboxAssets = {
    sandboxClass: "gvisor",
    assets: {
      amd64: {
        runsc: {
          url: `file://${runsc}`,
          sha256: createHash("sha256").update(readFileSync(runsc)).digest("hex"),
        },
      },
    },
  };
  const actor: ActorIdentity = {
    atespace: "test",
    templateNamespace: "default",
    templateName: "multi",
    actorId: "m1",
  };
  let registry: RunningRegistry;
  let workload: Workload;
  const address: Record<string, string> = {};
  let snapshot = "";
  const containersOf = () =>
    execFileSync("runsc", [`--root=${join(state, "runsc")}`, "list", "-quiet"], {
      encoding: "utf8",
    })
      .split("\n")
      .filter(Boolean);
  type Count = { memory: number; file: number; actor: string };
  /** Polls until `done` holds (every 50 ms, up to 20 s). */
  const until = async (done: () => boolean | Promise<boolean>, what: string) => {
    const deadline = Date.now() + 20_000;
    while (!(await done())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
      await sleep(50);
    }
  };
  const hit = (w: string, port: number, path = "/count") =>
    getJson<Count>(`http://${address[w]}:${port}${path}`);

  before(async () => {
    registry = await startRegistry();
    const [counter, probe] = await Promise.all([
      pushNodeImage(registry.host, "counter"),
      pushNodeImage(registry.host, "probe"),
    ]);
    const counterOn = (name: string, port: number, mountPath: string) => ({
      name,
      image: counter,
      env: [
        { name: "PORT", value: String(port) },
        { name: "DATA_DIR", value: mountPath },
      ],
      readyz: { path: "/readyz", port, timeoutSeconds: 30 },
      volumeMounts: [{ name: "data", mountPath }],
    });
    workload = {
      containers: [
        counterOn("counter-a", 8080, "/data"),
        // The same volume elsewhere in the second container: one directory, seen by both.
        counterOn("counter-b", 8081, "/shared"),
        {
          name: "probe",
          image: probe,
          env: [{ name: "PORT", value: "8082" }],
          readyz: { path: "/readyz", port: 8082, timeoutSeconds: 30 },
        },
      ],
      volumes: [{ name: "data", durableDir: {} }],
    };
    for (const w of ["w1", "w2"]) address[w] = (await agent.createWorker(w)).address;
  });

  after(async () => {
    for (const w of ["w1", "w2"]) await agent.deleteWorker(w).catch(() => {});
    await driver.close();
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs every container in one sandbox: own env and readyz, shared localhost and durableDir", async () => {
    await agent.run({ worker: "w1", actor, workload, sandboxAssets });
    assert.equal(containersOf().length, 3, "the root and two further containers");
    assert.deepEqual(await hit("w1", 8080), { memory: 1, file: 1, actor: "m1" });
    // counter-b's memory is its own; the count file is the one counter-a wrote, at once.
    assert.deepEqual(await hit("w1", 8081), { memory: 1, file: 2, actor: "m1" });
    assert.deepEqual(await hit("w1", 8080), { memory: 2, file: 3, actor: "m1" });
    // The probe reaches counter-b over the sandbox's own localhost.
    const seen = await getJson<{ ok: boolean; body: string }>(
      `http://${address.w1}:8082/fetch?url=${encodeURIComponent("http://127.0.0.1:8081/peek")}`,
    );
    assert.equal(seen.ok, true, JSON.stringify(seen));
    assert.equal((JSON.parse(seen.body) as Count).memory, 1);
    // One log, each line labelled with its container.
    const log = (await agent.logs(actor)[Symbol.asyncIterator]().next()).value?.toString() ?? "";
    for (const line of [
      "[counter-a] counter listening on 8080",
      "[counter-b] counter listening on 8081",
      "[probe] probe listening on 8082",
    ])
      assert.ok(log.includes(line), `log has "${line}":\n${log}`);
  });

  it("freezes and thaws every container together", async () => {
    await agent.freeze({ worker: "w1", actor });
    // runsc pauses the whole sandbox (its kernel) by its root; no probe is sent meanwhile (a
    // SYN that is never answered lingers in conntrack and holds up the next drain).
    const [root] = containersOf().filter((id) => /^w1-s/.test(id));
    const status = execFileSync("runsc", [`--root=${join(state, "runsc")}`, "state", root ?? ""], {
      encoding: "utf8",
    });
    assert.equal((JSON.parse(status) as { status: string }).status, "paused");
    await agent.thaw({ worker: "w1", actor });
    assert.deepEqual(await hit("w1", 8081), { memory: 2, file: 4, actor: "m1" });
  });

  it("suspends to a snapshot and resumes on another worker with every container's memory; scope Data boots them", async () => {
    const at = pathToFileURL(join(dir, "snapshots", "m1")).href;
    const snap = await agent.checkpoint({
      worker: "w1",
      actor,
      scope: "Full",
      destination: { kind: "external", uriPrefix: at },
    });
    snapshot = snap.uri;
    assert.ok(
      snap.files.some((f) => f.name === "checkpoint/containers.json"),
      "the snapshot records its containers",
    );
    await agent.restore({ worker: "w2", actor, source: snapshot, scope: "Full" });
    // w1's former sandbox goes in the background, its further containers with it.
    await until(
      () => !containersOf().some((id) => id.startsWith("w1-")),
      "w1's containers deleted",
    );
    assert.deepEqual(await hit("w2", 8080), { memory: 3, file: 5, actor: "m1" });
    assert.deepEqual(await hit("w2", 8081), { memory: 3, file: 6, actor: "m1" });
    const seen = await getJson<{ ok: boolean; body: string }>(
      `http://${address.w2}:8082/fetch?url=${encodeURIComponent("http://127.0.0.1:8080/peek")}`,
    );
    assert.equal((JSON.parse(seen.body) as Count).memory, 3, JSON.stringify(seen));
    // Scope Data back onto w1: every container boots afresh (memory 1) on the shared file.
    const data = await agent.checkpoint({
      worker: "w2",
      actor,
      scope: "Data",
      destination: { kind: "local" },
    });
    await agent.restore({ worker: "w1", actor, source: data.uri, scope: "Data" });
    assert.deepEqual(await hit("w1", 8081), { memory: 1, file: 7, actor: "m1" });
    assert.deepEqual(await hit("w1", 8080), { memory: 1, file: 8, actor: "m1" });
    // Every sandbox (w1's, w2's former) is deleted, each container of it, with its worker.
    await agent.stop("w1");
    for (const w of ["w1", "w2"]) await agent.deleteWorker(w);
    assert.deepEqual(containersOf(), [], "no container left behind");
    address.w1 = (await agent.createWorker("w1")).address;
  });

  it("refuses a snapshot into another set of containers, and leaves the worker empty", async () => {
    const manifestPath = join(fileURLToPath(snapshot), "manifest.json");
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { workload: Workload };
    manifest.workload.containers = manifest.workload.containers.slice(0, 2);
    writeFileSync(manifestPath, JSON.stringify(manifest));
    await assert.rejects(
      agent.restore({ worker: "w1", actor, source: snapshot, scope: "Full" }),
      /containers: the snapshot holds \[counter-a, counter-b, probe\], the restore asks for \[counter-a, counter-b\]/,
    );
    assert.equal(await agent.record("w1"), undefined, "nothing recorded on the worker");
    assert.deepEqual(containersOf(), [], "nothing started");
  });

  it("stops the whole sandbox when one container exits, and says which (after an agent restart too)", async () => {
    const [counterA] = workload.containers;
    const quitter = {
      name: "quitter",
      image: counterA?.image ?? "",
      command: ["/usr/bin/node", "-e", "setTimeout(() => process.exit(3), 4000)"],
    };
    const pair = { ...workload, containers: [counterA as Workload["containers"][0], quitter] };
    await agent.run({ worker: "w1", actor, workload: pair, sandboxAssets });
    // Another agent takes the node's sandboxes over (as after a restart): it waits on the
    // further containers anew, and it is the one that reports.
    const driver2 = new GvisorDriver({
      stateDir: state,
      network: { prefix: "atemc", subnetBase: 253, subnets: 1 },
    });
    const agent2 = new NodeAgent({ stateDir: state, drivers: [driver2], assetDirs: [dir] });
    try {
      const recovered = await agent2.recover();
      assert.equal(recovered.find((w) => w.name === "w1")?.actor?.actorId, "m1");
      // A `runsc wait` that dies (OOM-killed, say) is not the container's end: the wait is
      // started again while the quitter still runs, and its real exit code is reported.
      const waits = () =>
        execFileSync("pgrep", ["-f", "--", `--root=${join(state, "runsc")} wait w1-c`], {
          encoding: "utf8",
        })
          .split("\n")
          .filter(Boolean);
      const killed = waits();
      assert.ok(killed.length > 0, "waits on the quitter");
      for (const pid of killed) process.kill(Number(pid), "SIGKILL");
      await until(() => {
        try {
          return waits().some((pid) => !killed.includes(pid));
        } catch {
          return false; // pgrep found none (yet)
        }
      }, "a wait started again");
      let exit: { message: string; exitCode?: number } | undefined;
      await until(async () => {
        exit = (await agent2.listWorkers()).find((w) => w.name === "w1")?.lastExit;
        return exit !== undefined;
      }, "the exit reported");
      assert.match(exit?.message ?? "", /^container quitter exited with code 3; /);
      assert.equal(exit?.exitCode, 3);
      assert.equal(await agent2.record("w1"), undefined, "the worker is free");
      await until(() => !containersOf().some((id) => id.startsWith("w1-")), "no container left");
    } finally {
      await driver2.close();
    }
  });

  it("refuses 11 containers at validation, and at the node", async () => {
    const eleven = Array.from({ length: 11 }, (_, i) => ({ name: `c${i}`, image: "a@b" }));
    const { errors } = validateResource(
      ActorTemplateType,
      actorTemplate("t", { containers: eleven }),
    );
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(errors[0] ?? "", /^spec\.containers: Too many: 11: must have at most 10 items/);
    const one = workload.containers[0] as Workload["containers"][0];
    const many = { ...workload, containers: eleven.map((c) => ({ ...one, name: c.name })) };
    await assert.rejects(
      agent.run({ worker: "w1", actor, workload: many, sandboxAssets }),
      /containers: Invalid value: 11: an actor runs 1 to 10 containers/,
    );
    assert.equal(await agent.record("w1"), undefined);
  });
});
