// The CLI as users run it, in one run: `bin/ate version` and `bin/ate get actors` as child
// processes against a real `ate up` (started here, its token in a config file of its own, as
// `ate up` writes it), their medians beside node's own start and the tsx path (the CLI run from
// source, as before the build); and how soon `ate up` serves its API after its checks (the
// second start of the same state dir: a warm machine). It runs a copy of the repository built
// as `npm install` builds it, so edits made to the tree while it runs do not send bin/ate back
// to the sources.
//   node --import tsx bench/cli.bench.ts        (ROUNDS=N runs each command N times; default 15)
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { benchInfo, benchLine, quantile } from "./summary.ts";

const rounds = Number(process.env.ROUNDS ?? 15);
const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "ate-cli-bench-"));
const root = join(dir, "clone");
const ate = join(root, "bin", "ate");
const env: NodeJS.ProcessEnv = {
  ...process.env,
  ATE_CONFIG: join(dir, "config.yaml"),
  ATE_LOG: "debug",
  ATE_LOG_FORMAT: "json",
};
for (const k of ["ATE_SERVER", "ATE_TOKEN", "ATE_HOME"]) delete env[k];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Wall-clock milliseconds of each of `n` runs of a command; each must succeed. */
function times(n: number, cmd: string, args: string[], runEnv = env): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = spawnSync(cmd, args, { env: runEnv, encoding: "utf8" });
    out.push(performance.now() - t);
    if (r.status !== 0)
      throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr.trim()}`);
  }
  return out;
}

interface Up {
  child: ChildProcess;
  /** Seconds from the end of ate up's checks (its `up.checks` debug line) to the API answering. */
  readyS: number;
  /** The `up.*` steps' milliseconds, from the debug log. */
  steps: Record<string, number>;
}

/** Starts `ate up` on this state dir and waits until its API answers. */
async function up(apiPort: number, routerPort: number): Promise<Up> {
  const child = spawn(
    ate,
    [
      "up",
      "--state-dir",
      join(dir, "state"),
      "--api-addr",
      `127.0.0.1:${apiPort}`,
      "--router-addr",
      `127.0.0.1:${routerPort}`,
    ],
    { env, stdio: ["ignore", "ignore", "pipe"] },
  );
  let checkedAt: number | undefined;
  const steps: Record<string, number> = {};
  let log = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    log += chunk;
    let nl = log.indexOf("\n");
    while (nl >= 0) {
      const line = log.slice(0, nl);
      log = log.slice(nl + 1);
      nl = log.indexOf("\n");
      let entry: { time?: string; msg?: string; ms?: number };
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if (entry.msg === "up.checks") checkedAt = Date.parse(entry.time ?? "");
      else if (entry.msg?.startsWith("up.") && typeof entry.ms === "number")
        steps[entry.msg] = entry.ms;
    }
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const deadline = Date.now() + 120_000;
  for (;;) {
    const answered = await fetch(`http://127.0.0.1:${apiPort}/version`).then(
      (r) => r.ok,
      () => false,
    );
    if (answered) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      await exited;
      throw new Error(`ate up did not serve its API (exit ${child.exitCode})`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const answeredAt = Date.now();
  if (checkedAt === undefined) throw new Error("ate up logged no up.checks line");
  return { child, readyS: (answeredAt - checkedAt) / 1000, steps };
}

/** Stops `ate up` as Ctrl-C does, and waits for it to exit. */
async function down(u: Up): Promise<void> {
  if (u.child.exitCode !== null) return;
  const exited = new Promise((resolve) => u.child.once("exit", resolve));
  u.child.kill("SIGINT");
  const timer = setTimeout(() => u.child.kill("SIGKILL"), 60_000);
  await exited;
  clearTimeout(timer);
}

/** Copies what the build reads into the clone and builds it there, as npm install does. */
async function buildClone(): Promise<void> {
  // The clone: what the build reads, and node_modules as installed.
  for (const part of [
    "bin",
    "src",
    "package.json",
    "scripts/build.mjs",
    "scripts/build-stamp.mjs",
  ]) {
    mkdirSync(dirname(join(root, part)), { recursive: true });
    cpSync(join(repo, part), join(root, part), {
      recursive: true,
      verbatimSymlinks: true,
      preserveTimestamps: true,
    });
  }
  symlinkSync(join(repo, "node_modules"), join(root, "node_modules"));
  type Build = { buildCli(): Promise<{ ms: number }> };
  const build = (await import(pathToFileURL(join(root, "scripts", "build.mjs")).href)) as Build;
  console.log(`built the CLI as npm install does (${(await build.buildCli()).ms} ms)`);
  type Stamp = { buildState(root: URL): string };
  const stamp = (await import(
    pathToFileURL(join(root, "scripts", "build-stamp.mjs")).href
  )) as Stamp;
  if (stamp.buildState(pathToFileURL(`${root}/`)) !== "fresh")
    throw new Error("the build is stale");
}

let running: Up | undefined;
try {
  await buildClone();
  const [apiPort, routerPort] = [await freePort(), await freePort()];
  // The first start makes the state (token, runtime); the second is the warm start measured.
  const first = await up(apiPort, routerPort);
  running = first;
  await down(first);
  running = await up(apiPort, routerPort);
  const steps = Object.entries(running.steps).map(([k, v]) => `${k} ${v} ms`);
  console.log(`ate up start-up steps (warm): ${steps.join(", ")}`);

  const node = times(rounds, process.execPath, ["-e", "0"]);
  // bin/ate starts light commands without $NODE_EXTRA_CA_CERTS (node reads it whole at start).
  const { NODE_EXTRA_CA_CERTS: _ca, ...envWithoutCa } = env;
  const nodeWithoutCa = times(rounds, process.execPath, ["-e", "0"], envWithoutCa);
  const version = times(rounds, ate, ["version"]);
  const getActors = times(rounds, ate, ["get", "actors"]);
  // Before the build: the same commands run from source through tsx (its cache warm).
  const fromSource = (...args: string[]) =>
    times(Math.min(rounds, 5), process.execPath, [
      "--import",
      "tsx",
      join(root, "src", "cli", "bin.ts"),
      ...args,
    ]);
  const tsx = fromSource("version");
  const tsxGet = fromSource("get", "actors");
  const ms = (xs: number[]) => Math.round(quantile(xs, 0.5));
  console.log(
    `medians of ${rounds} runs: node -e 0 ${ms(node)} ms (${ms(nodeWithoutCa)} ms without NODE_EXTRA_CA_CERTS), ate version ${ms(version)} ms, ate get actors ${ms(getActors)} ms, ate version from source (tsx) ${ms(tsx)} ms`,
  );
  benchInfo("cli-node-startup-median", quantile(node, 0.5), "ms");
  benchInfo("cli-node-startup-without-extra-ca-median", quantile(nodeWithoutCa, 0.5), "ms");
  benchInfo("cli-version-tsx-median", quantile(tsx, 0.5), "ms");
  benchInfo("cli-get-actors-tsx-median", quantile(tsxGet, 0.5), "ms");
  // What the CLI adds to node's own start: comparable across machines of different speed.
  benchInfo("cli-version-over-node", quantile(version, 0.5) - quantile(node, 0.5), "ms");
  benchInfo("cli-get-actors-over-node", quantile(getActors, 0.5) - quantile(node, 0.5), "ms");
  benchLine("cli-version-median", quantile(version, 0.5), "ms", "<=", 150);
  benchLine("cli-get-actors-median", quantile(getActors, 0.5), "ms", "<=", 150);
  benchInfo("up-ready-first", first.readyS, "s");
  benchLine("up-ready", running.readyS, "s", "<=", 2);
} finally {
  if (running) await down(running);
  rmSync(dir, { recursive: true, force: true });
}
