// The actor commands against a real API server (control plane over SQLite, a node agent that
// does no sandbox work; test/e2e drives the same commands against real sandboxes).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startTestApi, type TestApi } from "../../test/support/api-server.ts";
import { runCliCaptured } from "../../test/support/cli.ts";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { declareNoopPool } from "../../test/support/noop-pool.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import type { ActorIdentity, NodeLogsOptions } from "../node/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import type { CliIO } from "./io.ts";
import { exitCodes, runCli } from "./main.ts";

/** Output that grows as the test says, like an actor writing to stdout. */
class ChattyAgent extends NoopNodeAgent {
  readonly output = new Map<string, string>();
  override async *logs(actor: ActorIdentity, o: NodeLogsOptions = {}): AsyncGenerator<Uint8Array> {
    yield Buffer.from(this.output.get(actor.actorId) ?? "").subarray(o.from ?? 0);
  }
}

describe("ate actor commands (against an API server)", () => {
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new ChattyAgent();
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
  });
  let server: TestApi;
  const config = mkdtempSync(join(tmpdir(), "ate-cli-config-"));
  const ate = async (...args: string[]) => {
    return runCliCaptured(["--server", server.url, "--token", server.adminToken, ...args]);
  };

  before(async () => {
    server = await startTestApi({ controlPlane: cp, resources });
    await declareNoopPool(resources, records, agent, { replicas: 2 });
  });
  after(async () => {
    await server.close();
    await resources.close();
    await records.store.close();
    rmSync(config, { recursive: true, force: true });
  });

  it("creates atespaces and actors, and lists them as Agent Substrate's tools do", async () => {
    assert.deepEqual(await ate("create", "atespace", "demo"), {
      code: 0,
      out: "atespace/demo created\n",
      err: "",
    });
    assert.equal(
      (await ate("create", "actor", "a1", "-t", "default/counter", "-a", "demo")).out,
      "actor/a1 created\n",
    );
    assert.equal(
      (await ate("create", "actor", "a2", "--template", "counter", "-a", "demo")).code,
      0,
    );
    const table = await ate("get", "actors", "-a", "demo");
    assert.equal(
      table.out.replace(/ +/g, " "),
      [
        "ATESPACE TEMPLATE NS TEMPLATE ID STATUS WORKER ADDRESS VERSION",
        "demo default counter a1 SUSPENDED <none> <none> 1",
        "demo default counter a2 SUSPENDED <none> <none> 1",
        "",
      ].join("\n"),
    );
    assert.match((await ate("get", "atespaces")).out, /^NAME\ndemo\n$/);
    const none = await ate("get", "actors");
    assert.equal(none.code, 0);
    assert.equal(none.err, "No actors found in atespace default.");
    assert.match((await ate("get", "actors", "-A")).out, /a1[\s\S]*a2/);
  });

  it("resumes, suspends and pauses, and shows who runs where", async () => {
    const resumed = await ate("resume", "actor", "a1", "-a", "demo");
    assert.match(resumed.out, /^actor\/a1 resumed on worker pool-\w+\n$/);
    const workers = await ate("get", "workers");
    assert.match(workers.out, /^NAMESPACE\s+POOL\s+WORKER\s+STATUS\s+ACTOR\n/);
    assert.match(workers.out, /default\s+pool\s+\S+\s+ASSIGNED\s+demo\/a1\n/);
    assert.match(workers.out, /default\s+pool\s+\S+\s+FREE\s+<none>/);
    const json = JSON.parse((await ate("get", "actor", "a1", "-a", "demo", "-o", "json")).out);
    assert.equal(json.status, "STATUS_RUNNING");
    assert.equal(json.actorId, "a1");
    assert.match(
      (await ate("get", "actors", "-a", "demo", "-o", "wide")).out,
      /^ATESPACE.*VERSION\s+TIER\s+POOL\s+MEMORY\s+CPU\s+LAST EXIT\s+SNAPSHOT\n.*a1\s+RUNNING\s+pool-\S+\s+127\.0\.0\.\d+\s+\d+\s+running\s+pool\s+-\s+-\s+<none>\s/m,
    );
    assert.equal((await ate("suspend", "actor", "a1", "-a", "demo")).out, "actor/a1 suspended\n");
    assert.match(
      (await ate("get", "actor", "a1", "-a", "demo", "-o", "yaml")).out,
      /status: STATUS_SUSPENDED/,
    );
    assert.equal(
      (await ate("resume", "actor", "a1", "-a", "demo", "--boot", "-o", "name")).out,
      "actor/a1\n",
    );
    assert.equal((await ate("pause", "actor", "a1", "-a", "demo")).out, "actor/a1 paused\n");
  });

  it("shows the limits of workers and of running actors' workers, and actors' last exits", async () => {
    const resumed = await ate("resume", "actor", "a1", "-a", "demo");
    assert.equal(resumed.code, 0, resumed.err);
    const running = await records.getActor("demo", "a1");
    const name = running.worker?.name ?? "";
    const worker = await records.getWorker("default", name);
    await records.putWorker({
      ...worker,
      settings: { limits: { memoryBytes: 128 * 1024 ** 2, cpuMillis: 500 }, egress: "none" },
    });
    const exitedAt = new Date(Date.now() - 125_000).toISOString();
    await records.updateActor({
      ...(await records.getActor("demo", "a2")),
      lastExit: { reason: "OOMKilled", message: "past its memory limit of 128Mi", at: exitedAt },
    });
    const workers = (await ate("get", "workers", "-o", "wide")).out;
    assert.match(workers, /^NAMESPACE.*NODE\s+MEMORY\s+CPU\s+EGRESS\s+VERSION\n/);
    assert.match(workers, new RegExp(`${name}\\s+ASSIGNED.*\\s128Mi\\s+500m\\s+none\\s+\\d+\n`));
    assert.match(workers, /FREE\s+<none>\s+<none>\s+127\.0\.0\.\d+\s+n1\s+-\s+-\s+default\s+\d+/);
    const actors = (await ate("get", "actors", "-a", "demo", "-o", "wide")).out;
    assert.match(actors, /a1\s+RUNNING\s.*\spool\s+128Mi\s+500m\s+<none>\s/);
    assert.match(
      actors,
      /a2\s+SUSPENDED\s.*\s<none>\s+<none>\s+<none>\s+OOMKilled 2m\d+s\s+<none>$/m,
    );
    const json = JSON.parse((await ate("get", "actor", "a2", "-a", "demo", "-o", "json")).out);
    assert.deepEqual(json.lastExit, {
      reason: "OOMKilled",
      message: "past its memory limit of 128Mi",
      time: exitedAt,
    });
    const a1 = JSON.parse((await ate("get", "actor", "a1", "-a", "demo", "-o", "json")).out);
    assert.deepEqual(a1.workerLimits, { memoryBytes: "134217728", cpuMillicores: "500" });
    const listed = JSON.parse((await ate("get", "workers", "-o", "json")).out).workers;
    const w = listed.find((w: { workerPod: string }) => w.workerPod === name);
    assert.deepEqual(w.limits, { memoryBytes: "134217728", cpuMillicores: "500" });
    assert.equal(w.egress, "none");
    assert.equal((await ate("suspend", "actor", "a1", "-a", "demo")).code, 0);
  });

  it("prints an actor's logs and follows them until the actor is deleted", async () => {
    agent.output.set("a2", "hello\n");
    assert.deepEqual(await ate("logs", "actor", "a2", "-a", "demo"), {
      code: 0,
      out: "hello\n",
      err: "",
    });
    const following = ate("logs", "actor", "a2", "-a", "demo", "-f");
    await new Promise((r) => setTimeout(r, 300));
    agent.output.set("a2", "hello\nagain\n");
    await new Promise((r) => setTimeout(r, 800));
    assert.equal((await ate("delete", "actor", "a2", "-a", "demo")).out, "actor/a2 deleted\n");
    assert.deepEqual(await following, { code: 0, out: "hello\nagain\n", err: "" });
  });

  it("fails in one line with an exit code scripts can rely on", async () => {
    const missing = await ate("get", "actor", "nope", "-a", "demo");
    assert.equal(missing.code, exitCodes.failed);
    assert.match(missing.err, /^Error: .*nope.*not found/i);
    const noTemplate = await ate("create", "actor", "x", "-a", "demo");
    assert.equal(noTemplate.code, exitCodes.failed);
    assert.match(noTemplate.err, /--template NAMESPACE\/TEMPLATE is required/);
    const badId = await ate("create", "actor", "Bad_Id", "-t", "counter", "-a", "demo");
    assert.match(badId.err, /actor_ref.name: Invalid value: "Bad_Id"/);
    const busy = await ate("delete", "atespace", "demo");
    assert.equal(busy.code, exitCodes.failed);
    assert.match((await ate("resume", "worker", "w")).err, /use ate resume actor/);
    assert.equal((await ate("frobnicate")).code, exitCodes.usage);
    assert.equal((await ate("get", "actors", "-o", "xml")).code, exitCodes.failed);
  });

  it("says how to reach a server when none answers, and reads the endpoint from a config file", async () => {
    const out: string[] = [];
    const io: CliIO = {
      out: (t) => out.push(t),
      write: (t) => out.push(t),
      err: (t) => out.push(t),
      stdin: () => "",
      now: () => new Date(),
    };
    const down = await runCli(["--server", "http://127.0.0.1:1", "get", "actors"], io);
    assert.equal(down, exitCodes.unavailable);
    assert.match(
      out.join("\n"),
      /cannot reach the ate API at http:\/\/127.0.0.1:1: start it with `ate up`/,
    );
    const path = join(config, "config.yaml");
    writeFileSync(path, `server: ${server.url}\ntoken: ${server.adminToken}\n`);
    process.env.ATE_CONFIG = path;
    try {
      out.length = 0;
      assert.equal(await runCli(["get", "atespaces"], io), 0);
      assert.match(out.join("\n"), /demo/);
      writeFileSync(path, "sever: http://x\n");
      out.length = 0;
      assert.equal(await runCli(["get", "atespaces"], io), exitCodes.failed);
      assert.match(out.join("\n"), /unknown field "sever" \(known: server, token\)/);
    } finally {
      delete process.env.ATE_CONFIG;
    }
  });

  it("prints the client's and the server's versions", async () => {
    const v = await ate("version");
    assert.match(v.out, /^Client Version: \d+\.\d+\.\d+\nServer Version: \d+\.\d+\.\d+ \(http/);
  });
});
