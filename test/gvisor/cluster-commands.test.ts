// `ate controlplane`, `ate node` and `ate router` as real processes on this machine's loopback
// (no namespaces): records and resources in a real valkey-server, tokens made through the CLI,
// an actor created and served through the router (reached through the node's entry point),
// suspended and resumed with its state; each process stopped with SIGTERM. And the flags and
// tokens each command refuses, with the messages that say why.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
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
import { findExecutable } from "../../src/up/index.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { counterTemplate } from "../support/counter-resources.ts";
import { removeLeftoverWorkers } from "../support/leftover-workers.ts";
import { freePort } from "../support/ports.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";
import { type RunningValkey, startValkey } from "../support/valkey.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = join(root, "bin", "ate");
const network = { prefix: "atnd", subnetBase: 170 };

interface Daemon {
  child: ChildProcess;
  output(): string;
  /** Waits until the output matches; fails when the process exits first. */
  waitFor(what: RegExp, seconds?: number): Promise<void>;
  /** SIGTERM; resolves with the exit code once it exited. */
  stop(): Promise<number | null>;
}

describe("ate controlplane, ate node and ate router as processes", { timeout: 10 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-commands-"));
  const config = join(dir, "cli-config.yaml");
  const daemons: Daemon[] = [];
  let valkey: RunningValkey;
  let registry: RunningRegistry;
  let image = "";
  let api = "";
  let apiPort = 0;
  let admin = "";
  let nodeToken = "";
  let routerToken = "";
  let router = "";

  const run = (args: string[], env: Record<string, string> = {}, input = "") =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      const child = execFile(
        bin,
        args,
        {
          encoding: "utf8",
          timeout: 120_000,
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
  const ok = async (args: string[], input = "") => {
    const r = await run(args, { ATE_SERVER: api, ATE_TOKEN: admin }, input);
    assert.equal(r.code, 0, `ate ${args.join(" ")}: ${r.err}`);
    return r.out;
  };
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
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        return exited;
      },
    };
    daemons.push(d);
    return d;
  };
  const tokenFile = (name: string, token: string, mode = 0o600) => {
    const path = join(dir, `${name}.token`);
    writeFileSync(path, `${token}\n`);
    chmodSync(path, mode);
    return path;
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

  before(async () => {
    valkey = await startValkey();
    registry = await startRegistry();
    image = await pushCounterImage(registry.host);
    apiPort = await freePort();
    api = `http://127.0.0.1:${apiPort}`;
  });

  after(async () => {
    for (const d of daemons) {
      if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill("SIGKILL");
    }
    // The node leaves its sandboxes running when stopped (for a restart): remove them.
    await removeLeftoverWorkers(join(dir, "n1", "node"), network);
    await registry?.stop();
    await valkey?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs a control plane on Valkey that makes the admin credential and serves the API", async () => {
    const cp = start([
      "controlplane",
      ...["--api-addr", `127.0.0.1:${apiPort}`],
      ...["--records", valkey.url],
      ...["--state-dir", join(dir, "cp")],
      ...["--idle-timeout", "0"],
    ]);
    await cp.waitFor(/is up/);
    assert.match(cp.output(), new RegExp(`API +${api} +\\(nodes and routers: --server ${api}\\)`));
    assert.match(
      cp.output(),
      /records +redis:\/\/.*shared: the controllers run while this one holds the lease/,
    );
    assert.match(
      cp.output(),
      /runtime +SandboxConfig gvisor-[0-9a-f]{12}, runsc [0-9a-f]{12} served/,
    );
    admin = readFileSync(join(dir, "cp", "admin.token"), "utf8").trim();
    assert.equal(readFileSync(config, "utf8"), `server: ${api}\ntoken: ${admin}\n`);
    await cp.waitFor(/^(?=.*"lease":"controllers")(?=.*lease: leading).*$/m, 30);
    nodeToken = (await ok(["create", "token", "n1", "--node"])).trim();
    routerToken = (await ok(["create", "token", "edge", "--router"])).trim();
    assert.match(
      await ok(["get", "tokens"]),
      /n1\s+node[\s\S]*edge\s+router|edge\s+router[\s\S]*n1\s+node/,
    );
  });

  it("refuses missing flags, unsafe or empty token files and tokens of another role or node", async () => {
    const noRecords = await run(["controlplane", "--api-addr", "127.0.0.1:0"]);
    assert.equal(noRecords.code, 2);
    assert.match(noRecords.err, /^error: --records is required: .*redis:\/\//m);
    const anyAddr = await run([
      "controlplane",
      ...["--api-addr", "0.0.0.0:0", "--records", `sqlite:///${dir}/x/records.db`],
      ...["--state-dir", join(dir, "x")],
    ]);
    assert.equal(anyAddr.code, 1);
    assert.match(
      anyAddr.err,
      /--api-addr 0\.0\.0\.0:\d+ listens on every address.*give --advertise-url/,
    );
    const badRecords = await run([
      "controlplane",
      "--api-addr",
      "127.0.0.1:0",
      "--records",
      "mysql://x",
    ]);
    assert.equal(badRecords.code, 1);
    assert.match(badRecords.err, /--records "mysql:\/\/x": give redis:\/\/HOST:PORT/);

    const node = (token: string, name = "n1") => [
      "node",
      ...["--server", api, "--token-file", token, "--name", name, "--address", "127.0.0.1"],
      ...["--state-dir", join(dir, "refused")],
    ];
    const routerArgs = (token: string) => [
      "router",
      ...["--server", api, "--token-file", token, "--router-addr", "127.0.0.1:0"],
    ];
    const open = tokenFile("open", nodeToken, 0o644);
    const r1 = await run(node(open));
    assert.equal(r1.code, 1);
    assert.match(
      r1.err,
      new RegExp(`--token-file ${open}: its mode 0644 lets its group or others read`),
    );
    const empty = tokenFile("empty", "");
    assert.match(
      (await run(routerArgs(empty))).err,
      /--token-file .*empty\.token: the file is empty/,
    );
    const gone = join(dir, "no-such.token");
    assert.match(
      (await run(routerArgs(gone))).err,
      /--token-file .*no-such\.token: cannot read it \(ENOENT\)/,
    );
    const junk = tokenFile("junk", "hunter2");
    assert.match((await run(routerArgs(junk))).err, /does not hold an ate token/);

    const n1 = tokenFile("n1", nodeToken);
    const asRouter = await run(routerArgs(n1));
    assert.equal(asRouter.code, 1);
    assert.match(
      asRouter.err,
      /the token in .*n1\.token is a node token \("n1"\): ate router needs a router token/,
    );
    const edge = tokenFile("edge", routerToken);
    assert.match(
      (await run(node(edge))).err,
      /is a router token \("edge"\): ate node needs a node token/,
    );
    const adminFile = tokenFile("admin", admin);
    assert.match(
      (await run(node(adminFile))).err,
      /is an admin token \("[^"]+"\): ate node needs a node token of its own/,
    );
    const other = await run(node(n1, "n2"));
    assert.equal(other.code, 1);
    assert.match(
      other.err,
      /the token in .*n1\.token is node n1's, not n2's: start this node with --name n1/,
    );
    const revoked = tokenFile("revoked", nodeToken.replace(/.{4}$/, "0000"));
    assert.match(
      (await run(routerArgs(revoked))).err,
      /is not valid at http:\/\/127\.0\.0\.1:\d+ .*make a new one/,
    );
    assert.ok(!existsSync(join(dir, "refused")), "a refused node touched nothing");
  });

  it("serves an actor on the node through the router, and keeps its state across a suspend", async () => {
    const nodePort = await freePort();
    const entryPort = await freePort();
    const node = start([
      "node",
      ...["--server", api, "--token-file", join(dir, "n1.token"), "--name", "n1"],
      ...["--address", "127.0.0.1", "--state-dir", join(dir, "n1")],
      ...["--net-prefix", network.prefix, "--net-subnet", String(network.subnetBase)],
      ...["--node-port", String(nodePort), "--entry-port", String(entryPort)],
      ...["--max-workers", "2"],
    ]);
    await node.waitFor(/^registered/m, 120);
    assert.match(node.output(), new RegExp(`node API +http://127\\.0\\.0\\.1:${nodePort}`));
    assert.match(node.output(), new RegExp(`entry point +127\\.0\\.0\\.1:${entryPort}`));
    const routerPort = await freePort();
    router = `http://127.0.0.1:${routerPort}`;
    const r = start([
      "router",
      ...["--server", api, "--token-file", join(dir, "edge.token")],
      ...["--router-addr", `127.0.0.1:${routerPort}`],
    ]);
    await r.waitFor(/is up/);

    const pool = {
      apiVersion: "ate.dev/v1alpha1",
      kind: "WorkerPool",
      metadata: { name: "pool", namespace: "default" },
      spec: { replicas: 1, ateomImage: "local" },
    };
    const template = counterTemplate("counter", {
      image,
      snapshotsDir: join(dir, "snapshots"),
      replicas: 1,
    });
    await ok(["apply", "-f", "-"], [pool, template].map((m) => JSON.stringify(m)).join("\n---\n"));
    await waitUntil(
      "the golden snapshot",
      async () =>
        JSON.parse(await ok(["get", "actortemplate", "counter", "-o", "json"])).status?.phase ===
        "Ready",
      300,
    );
    // The node fetched the runtime from the control plane by digest (never seeded, unlike ate up's).
    const runsc = createHash("sha256")
      .update(readFileSync(realpathSync(findExecutable("runsc") ?? "/usr/bin/runsc")))
      .digest("hex");
    assert.ok(existsSync(join(dir, "n1", "node", "assets", "sha256", runsc)), "runsc cached");
    await ok(["create", "actor", "alice", "-t", "counter"]);
    const first = await count("alice");
    const second = await count("alice");
    assert.deepEqual([first.memory, second.memory, second.file], [1, 2, 2]);
    // Routers reach alice through her node's entry point.
    const alice = await ok(["get", "actor", "alice", "-o", "json"]);
    assert.match(alice, new RegExp(`"workerEntry": "127\\.0\\.0\\.1:${entryPort}"`), alice);
    await ok(["suspend", "actor", "alice"]);
    const again = await count("alice");
    assert.equal(again.memory, 3, "memory kept across the suspend");
    assert.equal(again.file, 3, "files kept across the suspend");

    assert.equal(await r.stop(), 0, r.output());
    assert.match(r.output(), /stopping…\nstopped/);
    assert.equal(await node.stop(), 0, node.output());
    assert.match(node.output(), /stopped/);
    // Its sandboxes kept running, but it no longer heartbeats: lost after 10 s, and alice goes
    // back to her last snapshot, the reason shown.
    await waitUntil(
      "alice back at her snapshot because n1 was lost",
      async () => /alice\s+SUSPENDED.*NodeLost/.test(await ok(["get", "actors", "-o", "wide"])),
      40,
    );
  });

  it("stops the control plane on SIGTERM, releasing the lease", async () => {
    const cp = daemons[0] as Daemon;
    assert.equal(await cp.stop(), 0, cp.output());
    assert.match(cp.output(), /stopping: waiting for the lifecycle calls under way…\nstopped/);
  });
});
