// Memory of a running counter actor: PSS (/proc/<pid>/smaps_rollup) summed over every process
// of its sandbox (the foreground runsc the driver keeps as the sandbox's parent, the sandbox,
// the gofer, anything else under this node's runsc root), against the same counter server run
// natively with node, after the same warm-up requests, in one run. Then the actor is suspended
// and the bench shows what an idle actor costs: its snapshot and record, no process, no worker.
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { jsonLogger } from "../src/log/index.ts";
import { NodeAgent } from "../src/node/index.ts";
import { GvisorDriver } from "../src/sandbox/index.ts";
import { pushCounterImage } from "../test/support/counter-image.ts";
import { getJson } from "../test/support/http.ts";
import { freePort } from "../test/support/ports.ts";
import { startRegistry } from "../test/support/registry.ts";
import { counterActor, counterWorkload, machineRunscAssets } from "./counter-actor.ts";
import { benchInfo, benchLine } from "./summary.ts";

const warmup = Number(process.env.REQUESTS ?? 200);
const dir = mkdtempSync(join(tmpdir(), "ate-memory-bench-"));
const state = join(dir, "state");
const runscRoot = join(state, "runsc");
const agent = new NodeAgent({
  stateDir: state,
  drivers: [
    new GvisorDriver({ stateDir: state, network: { prefix: "atxm", subnetBase: 134, subnets: 1 } }),
  ],
  assetDirs: ["/usr/bin"], // the runtime below is the machine's runsc
  logger: jsonLogger(process.env.ATE_LOG === "debug" ? "debug" : "warn"),
});
const registry = await startRegistry();
const worker = "ma";

/** Every process: pid → parent pid and command line. */
function processes(): Map<number, { ppid: number; cmdline: string }> {
  const out = new Map<number, { ppid: number; cmdline: string }>();
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      // comm may hold spaces and parentheses: the fields after the last ")" are fixed.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      out.set(pid, { ppid, cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * The actor's processes: the foreground runsc the driver recorded for the worker and all its
 * descendants, and any process whose command line names this node's runsc root (a sandbox or
 * gofer that lost its parent, a `runsc delete` still at work).
 */
function actorProcesses(): number[] {
  const all = processes();
  const found = new Set<number>();
  let fg = 0;
  try {
    fg =
      Number(
        readFileSync(join(state, "pids", worker), "utf8")
          .trim()
          .split(" ")[0],
      ) || 0;
  } catch {
    // no sandbox recorded
  }
  if (fg && all.has(fg)) found.add(fg);
  for (const [pid, p] of all) if (p.cmdline.includes(runscRoot)) found.add(pid);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, p] of all)
      if (!found.has(pid) && found.has(p.ppid)) {
        found.add(pid);
        grew = true;
      }
  }
  found.delete(process.pid);
  return [...found].sort((a, b) => a - b);
}

/** A process's smaps_rollup ("" once it is gone). */
function rollup(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  } catch {
    return "";
  }
}

/** PSS in KiB from a smaps_rollup. */
function pss(rollupText: string): number {
  const m = rollupText.match(/^Pss:\s+(\d+) kB/m);
  return m ? Number(m[1]) : 0;
}

/**
 * PSS per address space. gVisor's systrap stubs are processes that share one address space
 * (the application's): each shows the same rollup, which must be counted once. Two distinct
 * address spaces with byte-identical rollups (range, every counter) do not happen in practice.
 */
function byAddressSpace(pids: number[]): { pids: number[]; kib: number; private: number }[] {
  const seen = new Map<string, number[]>();
  for (const pid of pids) {
    const text = rollup(pid);
    if (!text) continue;
    seen.set(text, [...(seen.get(text) ?? []), pid]);
  }
  return [...seen].map(([text, ps]) => ({ pids: ps, kib: pss(text), private: privateKiB(text) }));
}

/** Private (unshared) KiB from a smaps_rollup: what stopping the process would free for sure. */
function privateKiB(rollupText: string): number {
  let n = 0;
  for (const m of rollupText.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)) n += Number(m[1]);
  return n;
}

/** A process's name: its command (runsc re-executes itself as runsc-sandbox, runsc-gofer). */
const name = (pid: number) => {
  try {
    const arg0 = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "";
    if (arg0) return arg0.includes("/assets/") ? "runsc" : (arg0.split("/").pop() ?? arg0);
    return `${readFileSync(`/proc/${pid}/comm`, "utf8").trim()} (stub)`;
  } catch {
    return "?";
  }
};

async function warm(base: string): Promise<void> {
  for (let i = 0; i < warmup; i++) await getJson(`${base}/count`);
  await getJson(`${base}/peek`);
}

let native: ReturnType<typeof spawn> | undefined;
try {
  const image = await pushCounterImage(registry.host);
  const sandboxAssets = machineRunscAssets();
  const workload = counterWorkload(image);
  const actor = counterActor("m1");

  // The actor in its sandbox.
  const { address } = await agent.createWorker(worker);
  await agent.run({ worker, actor, workload, sandboxAssets });
  await warm(`http://${address}:8080`);
  await sleep(500); // let the sandbox settle after the last request
  const pids = actorProcesses();
  const parts = byAddressSpace(pids);
  const sandboxKiB = parts.reduce((n, p) => n + p.kib, 0);

  // The same server natively, same requests.
  const port = await freePort();
  const dataDir = join(dir, "native-data");
  mkdirSync(dataDir);
  // Copied out of the repo: its package.json would make node load the CommonJS server as ESM.
  const server = join(dir, "counter.js");
  copyFileSync(
    fileURLToPath(new URL("../test/fixtures/counter/counter.js", import.meta.url)),
    server,
  );
  native = spawn(process.execPath, [server], {
    env: { PORT: String(port), DATA_DIR: dataDir },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      await getJson(`${base}/peek`);
      break;
    } catch (err) {
      if (i > 200) throw err;
      await sleep(25);
    }
  }
  await warm(base);
  await sleep(500);
  const nativeRollup = rollup(native.pid ?? 0);
  const nativeKiB = pss(nativeRollup);
  const nativePrivate = privateKiB(nativeRollup);
  native.kill("SIGTERM");

  console.log(`memory of a running counter actor after ${warmup} requests (PSS)`);
  for (const p of parts)
    console.log(
      `  sandbox  ${(p.kib / 1024).toFixed(1).padStart(6)} MiB  ${p.pids.map((pid) => `${pid} ${name(pid)}`).join(", ")}${p.pids.length > 1 ? " (one address space)" : ""}`,
    );
  console.log(
    `  sandbox total ${(sandboxKiB / 1024).toFixed(1)} MiB in ${pids.length} processes (${parts.length} address spaces)`,
  );
  const sandboxPrivate = parts.reduce((n, p) => n + p.private, 0);
  console.log(
    `  native node   ${(nativeKiB / 1024).toFixed(1)} MiB   ratio ${(sandboxKiB / nativeKiB).toFixed(2)}`,
  );
  console.log(
    `  private (unshared) memory: sandbox ${(sandboxPrivate / 1024).toFixed(1)} MiB, native ${(nativePrivate / 1024).toFixed(1)} MiB (the native node's code is shared with every other node process on the machine, which PSS splits among them)`,
  );

  // Suspended: a snapshot and a record; no process, the worker free for another actor.
  const started = performance.now();
  const snap = await agent.checkpoint({
    worker,
    actor,
    scope: "Full",
    destination: { kind: "local" },
  });
  const suspendMs = performance.now() - started;
  const atReturn = actorProcesses();
  let left = atReturn;
  const settle = performance.now();
  while (left.length && performance.now() - settle < 10_000) {
    await sleep(50);
    left = actorProcesses();
  }
  const goneMs = performance.now() - started;
  const record = await agent.record(worker);
  const snapshotBytes = snap.files.reduce((n, f) => n + f.size, 0);
  console.log(
    `suspended in ${suspendMs.toFixed(0)} ms: ${atReturn.length} process(es) of the actor when it returned (${atReturn.map(name).join(", ") || "none"}), ${left.length} after ${goneMs.toFixed(0)} ms; worker ${record ? `still holds ${record.actor.actorId}` : "free"}; snapshot ${(snapshotBytes / 1024 / 1024).toFixed(1)} MiB`,
  );
  benchInfo("memory-sandbox-pss", sandboxKiB / 1024, "MiB");
  benchInfo("memory-native-pss", nativeKiB / 1024, "MiB");
  benchInfo("memory-sandbox-vs-native", sandboxKiB / nativeKiB, "x");
  benchInfo("memory-sandbox-private", sandboxPrivate / 1024, "MiB");
  benchInfo("memory-native-private", nativePrivate / 1024, "MiB");
  benchInfo("idle-actor-processes-at-suspend-return", atReturn.length, "processes");
  benchLine("idle-actor-processes", left.length, "processes", "<=", 0);
  benchLine("idle-actor-holds-worker", record ? 1 : 0, "workers", "<=", 0);
  benchInfo("idle-actor-snapshot", snapshotBytes / 1024 / 1024, "MiB");
} finally {
  if (native && native.exitCode === null && native.signalCode === null) native.kill("SIGKILL");
  await agent.deleteWorker(worker).catch(() => {});
  await registry.stop();
  rmSync(dir, { recursive: true, force: true });
}
