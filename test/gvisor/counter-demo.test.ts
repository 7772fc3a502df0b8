// The counter demo end to end, as a user runs it: only the CLI binary (bin/ate), the demo's
// files and its scenario script; `ate up` in a child process, stopped with Ctrl-C (SIGINT)
// and started again over the same state; after the restart, the actor reached through the
// TypeScript SDK (actor.fetch through the router), as a program would.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Actor_Status, connect } from "../../src/sdk/index.ts";
import { removeLeftoverWorkers } from "../support/leftover-workers.ts";
import { freePort } from "../support/ports.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = join(root, "bin", "ate");
const demo = join(root, "demos", "counter");
const network = { prefix: "atee", subnetBase: 240 };

describe("the counter demo through the ate binary", { timeout: 12 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-demo-"));
  const state = join(dir, "state");
  // ate up writes its admin token here (never into the user's own config); ate reads it.
  const config = join(dir, "cli-config.yaml");
  let registry: RunningRegistry;
  let up: ChildProcess | undefined;
  let upOutput = "";
  let api = "";
  let router = "";

  const ate = (args: string[], input = "") => {
    const r = spawnSync(bin, args, {
      encoding: "utf8",
      input,
      env: { ...process.env, ATE_SERVER: api, ATE_CONFIG: config },
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const ok = (args: string[], input = "") => {
    const r = ate(args, input);
    assert.equal(r.code, 0, `ate ${args.join(" ")}: ${r.err}`);
    return r.out;
  };
  const waitFor = async (what: string, check: () => boolean, seconds: number) => {
    for (let i = 0; i < seconds * 2; i++) {
      if (check()) return;
      await sleep(500);
    }
    assert.fail(`${what} within ${seconds} s; ate up said:\n${upOutput.slice(-3000)}`);
  };
  const startUp = async () => {
    upOutput = "";
    up = spawn(
      bin,
      [
        "up",
        "--state-dir",
        state,
        "--api-addr",
        api.slice("http://".length),
        "--router-addr",
        router.slice("http://".length),
        "--net-prefix",
        network.prefix,
        "--net-subnet",
        String(network.subnetBase),
      ],
      {
        env: { ...process.env, ATE_LOG: "warn", ATE_CONFIG: config },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    up.stdout?.on("data", (d) => {
      upOutput += d;
    });
    up.stderr?.on("data", (d) => {
      upOutput += d;
    });
    await waitFor("ate up is up", () => /is up/.test(upOutput) || up?.exitCode !== null, 120);
    assert.equal(up.exitCode, null, upOutput);
  };
  /** Ctrl-C: resolves with ate up's exit code once it has shut down. */
  const interrupt = async () => {
    const child = up;
    up = undefined;
    if (!child || child.exitCode !== null) return child?.exitCode ?? 0;
    const exited = new Promise<number>((r) => child.once("exit", (c) => r(c ?? 1)));
    child.kill("SIGINT");
    return exited;
  };
  /** The TypeScript SDK as a user of this ate up holds it (its admin token, API and router). */
  const sdk = () =>
    connect({
      server: api,
      token: readFileSync(join(state, "admin.token"), "utf8").trim(),
      router,
    });
  const count = async (actor: string) => {
    const res = await sdk().actor(actor).fetch("/");
    assert.equal(res.status, 200);
    return (await res.json()) as { actor: string; memory: number; file: number };
  };

  before(async () => {
    registry = await startRegistry();
    api = `http://127.0.0.1:${await freePort()}`;
    router = `http://127.0.0.1:${await freePort()}`;
  });

  after(async () => {
    await interrupt();
    // Whatever a failed run left.
    await removeLeftoverWorkers(join(state, "node"), network);
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs the scenario: a resume onto the other worker keeps memory and file state", async () => {
    const image = ok([
      "image",
      "build-node",
      join(demo, "server.ts"),
      `${registry.host}/demo/counter:v1`,
    ]).trim();
    assert.match(image, /^127\.0\.0\.1:\d+\/demo\/counter@sha256:[a-f0-9]{64}$/);
    await startUp();
    assert.match(
      upOutput,
      /runtime SandboxConfig gvisor-[a-f0-9]{12} \(created from this machine's runsc\)/,
    );
    assert.match(ok(["get", "sandboxconfigs"]), /gvisor-[a-f0-9]{12}\s+gvisor\s+true/);
    // The admin credential: in the state dir and the CLI's config, both for root's eyes only.
    assert.equal(statSync(join(state, "admin.token")).mode & 0o777, 0o600);
    assert.equal(statSync(config).mode & 0o777, 0o600);
    assert.equal(
      readFileSync(config, "utf8"),
      `server: ${api}\ntoken: ${readFileSync(join(state, "admin.token"), "utf8")}`,
    );
    const anonymous = spawnSync(bin, ["get", "actors"], {
      encoding: "utf8",
      env: { ...process.env, ATE_SERVER: api, ATE_CONFIG: join(dir, "none.yaml") },
    });
    assert.equal(anonymous.status, 1);
    assert.match(anonymous.stderr, /^Error: no valid token for the ate API/);

    assert.equal(
      ok(["apply", "-f", join(demo, "workerpool.yaml")]),
      "workerpool.ate.dev/demo-pool created\n",
    );
    const template = readFileSync(join(demo, "actortemplate.yaml"), "utf8")
      .replaceAll("IMAGE", image)
      .replace("file:///var/lib/ate/snapshots", `file://${dir}/snapshots`);
    assert.equal(ok(["apply", "-f", "-"], template), "actortemplate.ate.dev/counter created\n");
    await waitFor(
      "the golden snapshot",
      () =>
        JSON.parse(ok(["get", "actortemplate", "counter", "-o", "json"])).status?.phase === "Ready",
      300,
    );
    await waitFor(
      "two free workers",
      () => (ok(["get", "workers"]).match(/\bFREE\b/g) ?? []).length === 2,
      120,
    );

    const scenario = spawnSync("bash", [join(demo, "scenario.sh")], {
      encoding: "utf8",
      env: { ...process.env, ATE: bin, ATE_SERVER: api, ATE_CONFIG: config, ROUTER: router },
    });
    assert.equal(scenario.status, 0, `${scenario.stdout}\n${scenario.stderr}`);
    assert.match(
      scenario.stdout,
      /alice moved from worker demo-pool-\w+ to demo-pool-\w+; her memory counter went 3 -> 4 and her file counter 3 -> 4/,
    );
    assert.match(scenario.stdout, /\$ ate suspend actor alice -a default\nactor\/alice suspended/);
    assert.match(
      ok(["logs", "actor", "alice"]),
      /request 1: memory=1 file=1[\s\S]*request 4: memory=4 file=4/,
    );
  });

  it("suspends running actors and wipes workers on Ctrl-C, and brings the actors back on the next ate up", async () => {
    assert.equal(await interrupt(), 0);
    assert.match(upOutput, /suspended default\/alice/);
    assert.match(upOutput, /stopped; \d actor\(s\) suspended, workers wiped/);
    const netns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
    assert.doesNotMatch(netns, new RegExp(`^${network.prefix}-`, "m"), "no worker namespaces left");

    await startUp();
    assert.match(upOutput, /runtime SandboxConfig gvisor-[a-f0-9]{12} \(default\)/);
    assert.match(ok(["get", "actors"]), /alice\s+SUSPENDED/);
    await waitFor(
      "two free workers",
      () => (ok(["get", "workers"]).match(/\bFREE\b/g) ?? []).length === 2,
      120,
    );
    assert.deepEqual(
      { ...(await count("alice")), startedAt: undefined },
      { actor: "alice", memory: 5, file: 5, startedAt: undefined },
    );
    const alice = await sdk().actor("alice").get();
    assert.equal(alice.status, Actor_Status.RUNNING, "resumed by the request");
    assert.equal(await interrupt(), 0);
  });
});
