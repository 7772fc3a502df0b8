// From `ate up` to a cluster, keeping actors: a real `ate up` (runsc) runs the counter with
// state, one actor suspended to file:// snapshots and one paused on its node; stopped with
// Ctrl-C, it is moved by `ate migrate` into a real valkey-server and s3rver; then `ate
// controlplane`, `ate node` and `ate router` on loopback serve both actors with their memory
// and files, the node fetching the runsc their snapshots pin from S3 (the control plane
// serves another one), and the tokens made in ate up still work.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { RedisRecordStore } from "../../src/records/index.ts";
import { committedSnapshot } from "../../src/snapshots/index.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { counterTemplate } from "../support/counter-resources.ts";
import { removeLeftoverWorkers } from "../support/leftover-workers.ts";
import { freePort } from "../support/ports.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";
import { type RunningS3, startS3 } from "../support/s3rver.ts";
import { type RunningValkey, startValkey } from "../support/valkey.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = join(root, "bin", "ate");
const upNet = { prefix: "atmu", subnetBase: 244 };
const nodeNet = { prefix: "atmn", subnetBase: 248 };
const snapshots = "s3://snaps/cluster";
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

interface Daemon {
  child: ChildProcess;
  output(): string;
  waitFor(what: RegExp, seconds?: number): Promise<void>;
  /** A signal (SIGTERM by default); resolves with the exit code once it exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

describe("ate migrate from ate up to a cluster", { timeout: 15 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-migrate-"));
  const state = join(dir, "up");
  const config = join(dir, "cli-config.yaml");
  const daemons: Daemon[] = [];
  let registry: RunningRegistry;
  let valkey: RunningValkey;
  let s3: RunningS3;
  let api = "";
  let admin = "";
  let router = "";
  const tokens = { n1: "", edge: "", ci: "" };

  const run = (args: string[], env: Record<string, string> = {}, input = "") =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      const child = execFile(
        bin,
        args,
        {
          encoding: "utf8",
          timeout: 300_000,
          env: { ...process.env, ATE_CONFIG: config, ATE_LOG: "warn", ...env },
        },
        (err, out, errOut) =>
          resolve({
            code: err ? Number((err as { code?: number }).code ?? 1) : 0,
            out,
            err: errOut,
          }),
      );
      child.stdin?.end(input);
    });
  const ok = async (args: string[], input = "", token = admin) => {
    const r = await run(args, { ATE_SERVER: api, ATE_TOKEN: token }, input);
    assert.equal(r.code, 0, `ate ${args.join(" ")}: ${r.err}`);
    return r.out;
  };
  const migrate = (...more: string[]) =>
    run([
      "migrate",
      "--state-dir",
      state,
      "--records",
      valkey.url,
      "--snapshots",
      snapshots,
      ...more,
    ]);
  const start = (args: string[]): Daemon => {
    let out = "";
    const child = spawn(bin, args, {
      env: { ...process.env, ATE_CONFIG: config, ATE_LOG: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d) => {
      out += d;
    });
    child.stderr?.on("data", (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const d: Daemon = {
      child,
      output: () => out,
      async waitFor(what, seconds = 60) {
        const deadline = Date.now() + seconds * 1000;
        while (!what.test(out)) {
          assert.ok(child.exitCode === null, `ate ${args[0]} exited:\n${out.slice(-4000)}`);
          assert.ok(
            Date.now() < deadline,
            `ate ${args[0]}: ${what} within ${seconds} s:\n${out.slice(-4000)}`,
          );
          await sleep(100);
        }
      },
      async stop(signal = "SIGTERM") {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
    daemons.push(d);
    return d;
  };
  const waitUntil = async (what: string, f: () => Promise<boolean>, seconds: number) => {
    const deadline = Date.now() + seconds * 1000;
    while (!(await f().catch(() => false))) {
      assert.ok(Date.now() < deadline, `${what} within ${seconds} s`);
      await sleep(500);
    }
  };
  const count = async (actor: string) => {
    const res = await fetch(`${router}/actors/default/${actor}/`, {
      signal: AbortSignal.timeout(120_000),
    });
    const body = await res.text();
    assert.equal(res.status, 200, body);
    return JSON.parse(body) as { memory: number; file: number };
  };
  const tokenFile = (name: string, token: string) => {
    const path = join(dir, `${name}.token`);
    writeFileSync(path, `${token}\n`);
    chmodSync(path, 0o600);
    return path;
  };
  const actorsInValkey = async () => {
    const store = new RedisRecordStore({ url: valkey.url });
    try {
      return await store.count("actor");
    } finally {
      await store.close();
    }
  };

  before(async () => {
    registry = await startRegistry();
    valkey = await startValkey();
    s3 = await startS3(["snaps"]); // AWS_* for this process and every command it starts
  });

  after(async () => {
    for (const d of daemons)
      if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill("SIGKILL");
    await Promise.all(daemons.map((d) => d.stop()));
    await removeLeftoverWorkers(join(state, "node"), upNet);
    await removeLeftoverWorkers(join(dir, "n1", "node"), nodeNet);
    await registry?.stop();
    await valkey?.stop();
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs actors with state in ate up, and refuses to migrate while it runs", async () => {
    const image = await pushCounterImage(registry.host);
    api = `http://127.0.0.1:${await freePort()}`;
    router = `http://127.0.0.1:${await freePort()}`;
    const up = start([
      "up",
      ...["--state-dir", state, "--api-addr", api.slice(7), "--router-addr", router.slice(7)],
      ...["--net-prefix", upNet.prefix, "--net-subnet", String(upNet.subnetBase)],
      ...["--idle-timeout", "0"],
    ]);
    await up.waitFor(/is up/, 180);
    admin = readFileSync(join(state, "admin.token"), "utf8").trim();
    const pool = {
      apiVersion: "ate.dev/v1alpha1",
      kind: "WorkerPool",
      metadata: { name: "pool", namespace: "default" },
      spec: { replicas: 2, ateomImage: "local" },
    };
    const template = counterTemplate("counter", {
      image,
      snapshotsDir: join(dir, "up-snapshots"),
      replicas: 2,
    });
    await ok(["apply", "-f", "-"], [pool, template].map((m) => JSON.stringify(m)).join("\n---\n"));
    await waitUntil(
      "the golden snapshot",
      async () =>
        JSON.parse(await ok(["get", "actortemplate", "counter", "-o", "json"])).status?.phase ===
        "Ready",
      300,
    );
    tokens.n1 = (await ok(["create", "token", "n1", "--node"])).trim();
    tokens.edge = (await ok(["create", "token", "edge", "--router"])).trim();
    tokens.ci = (await ok(["create", "token", "ci", "--atespace", "default"])).trim();
    await ok(["create", "actor", "alice", "-t", "counter"]);
    await ok(["create", "actor", "bob", "-t", "counter"]);
    await count("alice");
    const twice = await count("alice");
    assert.deepEqual([twice.memory, twice.file], [2, 2]);
    assert.equal((await count("bob")).memory, 1);
    await ok(["suspend", "actor", "alice"]);
    await ok(["pause", "actor", "bob"]);
    assert.match(
      await ok(["get", "actors"]),
      /alice\s+SUSPENDED[\s\S]*bob\s+PAUSED|bob\s+PAUSED[\s\S]*alice\s+SUSPENDED/,
    );

    const refused = await migrate();
    assert.equal(refused.code, 1, refused.out);
    assert.match(
      refused.err,
      /ate up \(pid \d+\) is using the state directory .*: stop it first \(Ctrl-C/,
    );
    assert.equal(await up.stop("SIGINT"), 0, up.output());
  });

  it("checks in a dry run, copies and writes, and finds it all there when run again", async () => {
    const dry = await migrate("--dry-run");
    assert.equal(dry.code, 0, dry.err);
    assert.match(
      dry.out,
      /would copy snapshot file:\/\/\S+\/default\/alice\/\S+ to s3:\/\/snaps\/cluster\/default\/alice\//,
    );
    assert.match(
      dry.out,
      /would copy snapshot file:\/\/\S+\/node\/snapshots\/default\/bob\/\S+ to s3:\/\/snaps\/cluster\/default\/bob\//,
    );
    assert.match(dry.out, /would copy runtime asset sha256 [0-9a-f]{12}/);
    assert.match(dry.out, /would create actor default\/bob/);
    assert.match(dry.out, /token admin: ate up's own admin credential/);
    assert.equal(await actorsInValkey(), 0, "a dry run writes nothing");

    const real = await migrate();
    assert.equal(real.code, 0, real.err);
    assert.match(
      real.out,
      /copied snapshot \S+\/default\/alice\/\S+ to s3:\/\/snaps\/cluster\/default\/alice\/\S+ \(\d+ files, \d+ bytes\)/,
    );
    assert.match(
      real.out,
      /actor default\/bob: PAUSED on ate up's node; SUSPENDED in the cluster at s3:\/\//,
    );
    assert.match(real.out, /^done: /m);
    assert.ok((await actorsInValkey()) >= 3, "alice, bob and the golden actor");

    const again = await migrate();
    assert.equal(again.code, 0, again.err);
    assert.match(
      again.out,
      /done: resources 0 created, 3 already there; records 0 created, \d+ already there/,
    );
  });

  it("resumes both actors in the cluster with their memory and files, on the runsc they pinned", async () => {
    // The control plane serves a runsc other than ate up's: the actors' snapshots pin ate up's,
    // which the node fetches from S3 (where the migration put it).
    const upRunsc = sha256(realpathSync("/usr/bin/runsc"));
    const otherRunsc = join(dir, "runsc");
    copyFileSync(realpathSync("/usr/bin/runsc"), otherRunsc);
    appendFileSync(otherRunsc, "\n# another build\n");
    chmodSync(otherRunsc, 0o755);
    const apiPort = await freePort();
    api = `http://127.0.0.1:${apiPort}`;
    const cp = start([
      "controlplane",
      ...["--api-addr", `127.0.0.1:${apiPort}`, "--records", valkey.url],
      ...["--state-dir", join(dir, "cp"), "--idle-timeout", "0", "--runsc", otherRunsc],
    ]);
    await cp.waitFor(/is up/);
    admin = readFileSync(join(dir, "cp", "admin.token"), "utf8").trim();
    // ate up's admin token stayed behind; the node and router tokens made there work here.
    const old = await run(["get", "actors"], {
      ATE_SERVER: api,
      ATE_TOKEN: readFileSync(join(state, "admin.token"), "utf8").trim(),
    });
    assert.equal(old.code, 1);
    const node = start([
      "node",
      ...["--server", api, "--token-file", tokenFile("n1", tokens.n1), "--name", "n1"],
      ...["--address", "127.0.0.1", "--state-dir", join(dir, "n1")],
      ...["--net-prefix", nodeNet.prefix, "--net-subnet", String(nodeNet.subnetBase)],
      ...["--node-port", String(await freePort()), "--entry-port", String(await freePort())],
      ...["--max-workers", "2"],
    ]);
    await node.waitFor(/^registered/m, 120);
    router = `http://127.0.0.1:${await freePort()}`;
    const r = start([
      "router",
      ...[
        "--server",
        api,
        "--token-file",
        tokenFile("edge", tokens.edge),
        "--router-addr",
        router.slice(7),
      ],
    ]);
    await r.waitFor(/is up/);
    assert.match(
      await ok(["get", "actors"], "", tokens.ci),
      /alice\s+SUSPENDED[\s\S]*bob\s+SUSPENDED/,
    );
    await waitUntil(
      "two free workers on n1",
      async () => ((await ok(["get", "workers"])).match(/\bFREE\b/g) ?? []).length === 2,
      180,
    );

    // Bob's copy names the runsc it pins where nodes fetch it: in S3 (read before he runs:
    // his next suspend replaces it, the history keeping one).
    const records = new RedisRecordStore({ url: valkey.url });
    const moved = (await records.get("actor", "default/bob").finally(() => records.close())) as {
      latestSnapshot?: { uri: string };
    };
    const copy = moved.latestSnapshot?.uri;
    assert.ok(copy?.startsWith(`${snapshots}/default/bob/`), `bob's copy in S3: ${copy}`);
    const manifest = await committedSnapshot(copy ?? "");
    assert.equal(manifest?.assets.runsc?.url, `${snapshots}/_runtime/sha256/${upRunsc}`);

    const alice = await count("alice");
    assert.deepEqual([alice.memory, alice.file], [3, 3], "alice's memory and file kept");
    const bob = await count("bob");
    assert.deepEqual([bob.memory, bob.file], [2, 2], "bob's memory and file kept (he was paused)");
    const cached = join(dir, "n1", "node", "assets", "sha256");
    // Which only S3 had: the control plane serves its own runsc, not ate up's.
    assert.ok(existsSync(join(cached, upRunsc)), "ate up's runsc fetched by the node");
    assert.match(cp.output(), new RegExp(`runsc ${sha256(otherRunsc).slice(0, 12)} served`));

    // What the cluster changed since is never overwritten by another run.
    const late = await migrate();
    assert.equal(late.code, 1);
    assert.match(late.err, /actor default\/alice exists there with other content/);

    assert.equal(await r.stop(), 0, r.output());
    assert.equal(await node.stop(), 0, node.output());
    assert.equal(await cp.stop(), 0, cp.output());
  });
});
