import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";

/** Where a command is on PATH (plus the sbin directories a root shell has), if anywhere. */
export function findExecutable(name: string, path = process.env.PATH ?? ""): string | undefined {
  const dirs = [...path.split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

export interface Prerequisite {
  what: string;
  /** Undefined when met; else what is missing and how to get it. */
  problem?: string;
}

const apt = (pkgs: string) => `install it: apt-get install -y ${pkgs} (npm start does all set-up)`;

/**
 * What `ate up` and `ate node` need from this machine to run gVisor sandboxes in network
 * namespaces. Every check runs (so one run lists every problem), each saying how to fix it.
 */
export function checkPrerequisites(
  o: {
    /** The runsc to use; false: none needed here (a node runs the runsc its assets name). */
    runsc?: string | false;
    uid?: number | undefined;
    command?: string;
  } = {},
): Prerequisite[] {
  const command = o.command ?? "ate up";
  const uid = "uid" in o ? o.uid : process.getuid?.();
  const checks: Prerequisite[] = [];
  const add = (what: string, problem?: string) =>
    checks.push({ what, ...(problem ? { problem } : {}) });
  add(
    "root",
    uid === 0
      ? undefined
      : `${command} creates network namespaces and runs gVisor sandboxes, which needs root: run it as root (sudo ${command})`,
  );
  if (o.runsc !== false) {
    const runsc = o.runsc ?? findExecutable("runsc");
    add(
      "runsc",
      runsc && existsSync(runsc)
        ? undefined
        : "runsc (gVisor) is not installed: add Debian's bookworm-backports suite and apt-get install -y -t bookworm-backports runsc (the bookworm build cannot checkpoint reliably; npm start does all set-up)",
    );
  }
  for (const [tool, pkg] of [
    ["ip", "iproute2"],
    ["iptables", "iptables"],
    ["conntrack", "conntrack"],
    ["unshare", "util-linux"],
    ["sysctl", "procps"],
  ] as const)
    add(tool, findExecutable(tool) ? undefined : `${tool} is missing: ${apt(pkg)}`);
  add(
    "network namespaces",
    existsSync("/proc/self/ns/net")
      ? undefined
      : "the kernel has no network namespaces (CONFIG_NET_NS): use a kernel with them",
  );
  add(
    "cgroups",
    existsSync("/sys/fs/cgroup")
      ? undefined
      : "/sys/fs/cgroup is not mounted: runsc needs cgroups (mount cgroup2 on /sys/fs/cgroup)",
  );
  const iptables = findExecutable("iptables");
  if (iptables && uid === 0) {
    try {
      execFileSync(iptables, ["-w", "-t", "nat", "-S"], { stdio: "pipe", timeout: 10_000 });
      add("iptables nat");
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? "")
        .trim()
        .split("\n")[0];
      add(
        "iptables nat",
        `iptables cannot use the nat table (${stderr || (err as Error).message}): load the nf_nat/iptable_nat kernel modules (modprobe iptable_nat)`,
      );
    }
  }
  return checks;
}
