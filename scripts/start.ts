// `npm start`: the whole substrate on this machine with the counter demo, for a first look.
// (scripts/setup-system.sh has installed runsc, the registry and the rest before this runs.)
//   1. a local OCI registry on 127.0.0.1:5000 (Debian's docker-registry), kept in the state dir
//   2. the demo's image: demos/counter/server.ts built with `ate image build-node` and pushed
//   3. `ate up` (unless one already answers), its logs in <state>/ate-up.log
//   4. the demo's WorkerPool and ActorTemplate, then the scenario (demos/counter/scenario.sh)
// and leaves ate up running for the user; Ctrl-C stops it (actors are suspended).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  fchmodSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { ateHome } from "../src/resources/index.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ate = join(root, "bin", "ate");
const demo = join(root, "demos", "counter");
const state = ateHome();
const api = "http://127.0.0.1:7443";
const router = "http://127.0.0.1:7480";
const registryAddr = "127.0.0.1:5000";
const bold = process.stdout.isTTY ? (s: string) => `\x1b[1m${s}\x1b[0m` : (s: string) => s;

/** Processes this script started, stopped if it fails (ate up suspends its actors on SIGTERM). */
const started: ChildProcess[] = [];

/**
 * The admin token of the ate up this script started (it is in its state dir before the API
 * answers; the CLI config gets it a moment later). Otherwise ate reads its config file.
 */
let adminToken: string | undefined;

function fail(message: string): never {
  console.error(`npm start: ${message}`);
  for (const child of started) child.kill("SIGTERM");
  process.exit(1);
}

/** `ate` and `kubectl-ate` on PATH (as root, in /usr/local/bin), unless some ate already is. */
function installCommands(): void {
  if (process.getuid?.() !== 0 || !existsSync("/usr/local/bin")) return;
  for (const name of ["ate", "kubectl-ate"]) {
    const link = join("/usr/local/bin", name);
    if (spawnSync("sh", ["-c", `command -v ${name}`]).status === 0) continue;
    // A link left by a checkout that is gone is replaced; anything else is left alone.
    if (lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink() && !existsSync(link))
      unlinkSync(link);
    if (existsSync(link)) continue;
    symlinkSync(join(root, "bin", name), link);
    console.log(`installed ${link} -> ${join(root, "bin", name)}`);
  }
}

/** Runs ate, echoing the command; returns stdout (stderr passes through). */
function runAte(
  args: string[],
  o: { input?: string; quiet?: boolean; hint?: string } = {},
): string {
  if (!o.quiet) console.log(`$ ate ${args.join(" ")}`);
  const r = spawnSync(ate, args, {
    encoding: "utf8",
    env: { ...process.env, ATE_SERVER: api, ...(adminToken ? { ATE_TOKEN: adminToken } : {}) },
    input: o.input ?? "",
    stdio: ["pipe", "pipe", "inherit"],
  });
  if (!o.quiet) process.stdout.write(r.stdout);
  if (r.status !== 0)
    fail(`ate ${args.join(" ")} failed (exit ${r.status})${o.hint ? `: ${o.hint}` : ""}`);
  return r.stdout;
}

async function answers(url: string): Promise<boolean> {
  return fetch(url, { signal: AbortSignal.timeout(2000) }).then(
    (r) => r.ok,
    () => false,
  );
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  seconds: number,
): Promise<void> {
  for (let i = 0; i < seconds * 2; i++) {
    if (await check()) return;
    await sleep(500);
  }
  fail(`${what} did not happen within ${seconds} s (logs: ${join(state, "ate-up.log")})`);
}

async function startRegistry(): Promise<ChildProcess | undefined> {
  if (await answers(`http://${registryAddr}/v2/`)) return undefined;
  const dir = join(state, "registry");
  mkdirSync(dir, { recursive: true });
  const config = join(dir, "config.yml");
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: ${registryAddr}\n`,
  );
  const log = openSync(join(dir, "registry.log"), "a");
  const child = spawn("docker-registry", ["serve", config], { stdio: ["ignore", log, log] });
  started.push(child);
  await waitFor("the registry answering", () => answers(`http://${registryAddr}/v2/`), 30);
  return child;
}

async function startAteUp(): Promise<ChildProcess | undefined> {
  if (await answers(`${api}/healthz`)) {
    console.log(`ate is already up at ${api}: using it`);
    return undefined;
  }
  mkdirSync(state, { recursive: true });
  // ate up's log says what its actors did: root only, like the rest of the state dir.
  const log = openSync(join(state, "ate-up.log"), "a", 0o600);
  fchmodSync(log, 0o600);
  const child = spawn(ate, ["up", "--state-dir", state], { stdio: ["ignore", "inherit", log] });
  started.push(child);
  const exited = new Promise<number>((r) => child.once("exit", (code) => r(code ?? 1)));
  await waitFor(
    "ate up serving its API",
    async () => {
      if (child.exitCode !== null) {
        const tail = readFileSync(join(state, "ate-up.log"), "utf8").trim().split("\n").slice(-5);
        fail(`ate up exited (${await exited}):\n${tail.join("\n")}`);
      }
      return answers(`${api}/healthz`);
    },
    120,
  );
  adminToken = readFileSync(join(state, "admin.token"), "utf8").trim();
  return child;
}

interface Template {
  status?: { phase?: string; message?: string; conditions?: { message?: string }[] };
}

async function main(): Promise<void> {
  console.log(bold("== Setting up: registry, demo image, ate up"));
  installCommands();
  const registry = await startRegistry();
  const image = runAte([
    "image",
    "build-node",
    join(demo, "server.ts"),
    `${registryAddr}/demo/counter:v1`,
  ]).trim();
  const up = await startAteUp();

  console.log(bold("\n== The demo's WorkerPool and ActorTemplate"));
  runAte(["apply", "-f", join(demo, "workerpool.yaml")]);
  const template = readFileSync(join(demo, "actortemplate.yaml"), "utf8").replaceAll(
    "IMAGE",
    image,
  );
  runAte(["apply", "-f", "-"], {
    input: template,
    hint: "an ActorTemplate's spec cannot change; if an older demo template is in the way, remove it (ate delete actortemplate counter) and run npm start again",
  });
  console.log(
    "waiting for the template's golden snapshot (booted once, checkpointed; actors start from it)…",
  );
  await waitFor(
    "the counter template becoming Ready",
    async () => {
      const t = JSON.parse(
        runAte(["get", "actortemplate", "counter", "-o", "json"], { quiet: true }),
      ) as Template;
      if (t.status?.phase === "Failed")
        fail(
          `the counter template failed: ${JSON.stringify(t.status)} (logs: ${join(state, "ate-up.log")})`,
        );
      return t.status?.phase === "Ready";
    },
    300,
  );
  runAte(["get", "actortemplates"]);
  // Two workers in the pool (free, or running actors of an earlier run, which the router
  // suspends to make room when the scenario needs them).
  await waitFor(
    "the pool's two workers",
    async () =>
      (runAte(["get", "workers"], { quiet: true }).match(/^\S+\s+demo-pool\s/gm) ?? []).length >= 2,
    120,
  );

  const scenario = spawnSync("bash", [join(demo, "scenario.sh")], {
    stdio: "inherit",
    env: {
      ...process.env,
      ATE: ate,
      ATE_SERVER: api,
      ROUTER: router,
      ...(adminToken ? { ATE_TOKEN: adminToken } : {}),
    },
  });
  if (scenario.status !== 0) fail("the scenario failed (see above)");

  const onPath = spawnSync("sh", ["-c", "command -v ate"], { encoding: "utf8" }).stdout.trim();
  const cmd = onPath ? "ate" : ate;
  console.log(`
${bold("demo ready")}: ate is up (API ${api}, router ${router}, state in ${state}).
Try, in another terminal:
  ${cmd} get actors -o wide                   where alice, bob and carol run, and their snapshots
  curl ${router}/actors/default/alice/        alice counts on (resumed if she was suspended)
  curl -H 'Host: bob.default.actors.resources.substrate.ate.dev' ${router}/
  ${cmd} create actor dave -t default/counter   a new actor: its first request resumes it
  ${cmd} suspend actor dave                   checkpoint him now; his worker is free again
  ${cmd} logs actor alice -f                  her output, across suspends and resumes
  ${cmd} get workers                          two workers, shared by all the actors (the router
                                              suspends the least recently used one to make room)
  ${cmd} create token team-a --atespace default   a tenant token: ATE_TOKEN=<it> ${cmd} get actors
                                              (ate up put its admin token in ~/.config/ate/config.yaml)
  ${cmd} create snapshottag five --actor alice   then: ${cmd} create actor erin -t default/counter --from-tag default/five
  ${cmd} gc --dry-run                         what the collector would remove, and the bytes
Open ${api}/ui (log in with the admin token) for the live dashboard; ${api}/metrics with it
for Prometheus.
Idle actors are suspended after 60 s (the template's ate.dev/idle-timeout-seconds) and come
back on their next request. demos/counter/README.md walks through the rest.
${up ? "Ctrl-C stops ate up (running actors are suspended; npm start again brings them back)." : ""}`);
  if (!up) {
    registry?.kill("SIGTERM");
    return;
  }
  // Ctrl-C reaches ate up too (same terminal); wait for its clean shutdown, then stop the registry.
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => up.kill("SIGTERM"));
  const code = await new Promise<number>((r) =>
    up.exitCode !== null ? r(up.exitCode) : up.once("exit", (c) => r(c ?? 0)),
  );
  registry?.kill("SIGTERM");
  process.exitCode = code;
}

if (!existsSync(ate)) fail(`${ate} is missing: run npm start from a checkout`);
await main();
