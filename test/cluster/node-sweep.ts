// What a node host leaves outside its network namespace: runsc sandboxes (their own namespaces,
// processes the host's crash() does not reach), worker network namespaces and cgroups. A crash
// kills the sandboxes as a dying machine would; a sweep removes all of it, as a restarted agent
// over the same state would (test/cluster/remove-workers.ts, run inside the node's namespace).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { alive, signalPid, until } from "../support/cluster-process.ts";

const run = promisify(execFile);

/** A node's worker names (`<prefix>-w<n>`) and addresses (169.254.<subnetBase>.0 up). */
export interface NodeNet {
  prefix: string;
  subnetBase: number;
}

/** The agent's state directory under `ate node --state-dir` (itself, or its node/). */
function agentDirs(stateDir: string): string[] {
  return [stateDir, join(stateDir, "node")].filter((d) => existsSync(join(d, "runsc")));
}

/** Processes whose command line names this runsc root (runsc, its sandbox and gofer). */
function runscProcesses(root: string): number[] {
  const flag = `--root=${root}`;
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(flag);
      } catch {
        return false;
      }
    });
}

/** SIGKILLs every sandbox of the node's runsc root, then has runsc forget them. */
export async function killNodeSandboxes(stateDir: string): Promise<void> {
  for (const dir of agentDirs(stateDir)) {
    const root = join(dir, "runsc");
    const pids = runscProcesses(root);
    for (const pid of pids) signalPid(pid, "SIGKILL");
    await until(() => pids.every((p) => !alive(p)), 10_000);
    const listed = await run("runsc", [`--root=${root}`, "list", "-quiet"]).catch(() => ({
      stdout: "",
    }));
    for (const id of listed.stdout.split("\n").filter(Boolean))
      await run("runsc", [`--root=${root}`, "delete", "--force", id]).catch(() => {});
  }
}

/**
 * Everything a node host (`hostDir`, its state in `<hostDir>/state`) left: sandboxes, then
 * worker namespaces, links, rules and cgroups through a fresh agent in the host's namespace
 * (nsPath, which must still exist). Best effort: what fails is left for the next sweep.
 */
export async function sweepNode(nsPath: string, hostDir: string): Promise<void> {
  const state = join(hostDir, "state");
  await killNodeSandboxes(state).catch(() => {});
  const netFile = join(hostDir, "node-net.json");
  const net = existsSync(netFile)
    ? (JSON.parse(readFileSync(netFile, "utf8")) as NodeNet)
    : undefined;
  const script = new URL("./remove-workers.ts", import.meta.url).pathname;
  for (const dir of net && existsSync(nsPath) ? agentDirs(state) : [])
    await run(
      "nsenter",
      [
        `--net=${nsPath}`,
        "--",
        process.execPath,
        ...["--import", "tsx", script, JSON.stringify({ dir, ...net })],
      ],
      { timeout: 60_000 },
    ).catch(() => {});
  forgetNetworkClaim(state);
}

/** The node's machine-wide network claim (/run/ate/networks, named by its state dir's hash). */
function forgetNetworkClaim(stateDir: string): void {
  const name = `${createHash("sha256").update(stateDir).digest("hex").slice(0, 16)}.json`;
  const path = join("/run/ate/networks", name);
  try {
    if ((JSON.parse(readFileSync(path, "utf8")) as { stateDir?: string }).stateDir === stateDir)
      rmSync(path, { force: true });
  } catch {
    // none (any more)
  }
}
