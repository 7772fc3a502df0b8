// `ate up` as a real process, killed with SIGKILL in the middle of a suspend and started
// again: the reconciler must leave the actor consistent, and it must resume with its state.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { bearer } from "../../src/cli/control-client.ts";
import { Actor_Status, Control } from "../../src/proto/gen/ateapi/control_pb.ts";
import { RemoteResourceStore } from "../../src/resources/index.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { applyCounterSetup, waitForGolden } from "../support/counter-resources.ts";
import { getJson } from "../support/http.ts";
import { removeLeftoverWorkers } from "../support/leftover-workers.ts";
import { freePort } from "../support/ports.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

describe("ate up survives SIGKILL during a suspend", { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-crash-"));
  let registry: RunningRegistry;
  let server: ChildProcess | undefined;
  let url = "";
  let routerPort = 0;
  let log = "";

  async function start(): Promise<void> {
    server = spawn(
      join(root, "bin", "ate"),
      [
        "up",
        "--state-dir",
        join(dir, "state"),
        "--api-addr",
        url.replace("http://", ""),
        "--router-addr",
        `127.0.0.1:${routerPort}`,
        "--net-prefix",
        "atek",
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ATE_LOG: "info", ATE_CONFIG: join(dir, "cli-config.yaml") },
      },
    );
    server.stdout?.on("data", (d) => {
      log += d;
    });
    server.stderr?.on("data", (d) => {
      log += d;
    });
    // The API answers once the node has registered and the first controllers' pass is done.
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      if (
        (await fetch(`${url}/healthz`).then(
          (r) => r.ok,
          () => false,
        )) === true
      )
        return;
      if (server.exitCode !== null) throw new Error(`ate up exited: ${log}`);
      await sleep(100);
    }
    throw new Error(`ate up did not start: ${log}`);
  }

  async function stop(signal: NodeJS.Signals): Promise<void> {
    const s = server;
    if (!s || s.exitCode !== null) return;
    s.kill(signal);
    await new Promise((r) => s.once("exit", r));
  }

  before(async () => {
    registry = await startRegistry();
    url = `http://127.0.0.1:${await freePort()}`;
    routerPort = await freePort();
  });

  after(async () => {
    await stop("SIGTERM");
    // Leave nothing behind: the sandboxes and namespaces the killed server made.
    await removeLeftoverWorkers(join(dir, "state", "node"), { prefix: "atek" });
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps the actor consistent and its state intact", async () => {
    await start();
    // Written before the API answers.
    const token = readFileSync(join(dir, "state", "admin.token"), "utf8").trim();
    const resources = new RemoteResourceStore(url, { token });
    const image = await pushCounterImage(registry.host);
    await applyCounterSetup(resources, {
      declareRuntime: false, // ate up declared the machine's runsc
      image,
      snapshotsDir: join(dir, "snapshots"),
      replicas: 1,
    });
    await waitForGolden(resources, ["counter"], 60_000, log);
    const client = createClient(
      Control,
      createConnectTransport({
        baseUrl: url,
        httpVersion: "1.1",
        interceptors: [bearer(token)],
      }),
    );
    const ref = { atespace: "demo", name: "survivor" };
    await client.createAtespace({ name: "demo" });
    await client.createActor({ actorRef: ref, actorTemplateName: "counter" });
    const running = (await client.resumeActor({ actorRef: ref })).actor;
    await getJson(`http://${running?.ateomPodIp}:8080/count`);
    assert.deepEqual(await getJson(`http://${running?.ateomPodIp}:8080/count`), {
      memory: 2,
      file: 2,
      actor: "survivor",
    });

    // Suspend, and kill the server as soon as the actor is SUSPENDING.
    void client.suspendActor({ actorRef: ref }).catch(() => {});
    for (let i = 0; i < 500; i++) {
      const a = (await client.getActor({ actorRef: ref })).actor;
      if (a?.status === Actor_Status.SUSPENDING || a?.status === Actor_Status.SUSPENDED) break;
      await sleep(2);
    }
    await stop("SIGKILL");
    await start();

    // The interrupted suspend was finished or rolled back before the API answered (the first
    // controllers' pass runs before ate up serves): nothing interrupted shows, not even now.
    let actor = (await client.getActor({ actorRef: ref })).actor;
    assert.ok(
      actor?.status === Actor_Status.RUNNING || actor?.status === Actor_Status.SUSPENDED,
      `consistent after restart, got ${actor?.status}`,
    );
    const workers = (await client.listWorkers({})).workers;
    const holding = workers.filter((w) => w.actorId === "survivor");
    if (actor?.status === Actor_Status.RUNNING) assert.equal(holding.length, 1);
    else assert.equal(holding.length, 0, "a suspended actor holds no worker");
    actor = (await client.resumeActor({ actorRef: ref })).actor;
    assert.equal(actor?.status, Actor_Status.RUNNING);
    assert.deepEqual(await getJson(`http://${actor?.ateomPodIp}:8080/count`), {
      memory: 3,
      file: 3,
      actor: "survivor",
    });
  });
});
