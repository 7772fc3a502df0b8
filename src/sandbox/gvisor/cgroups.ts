import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  existsSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
} from "node:fs";
import { mkdir, readdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AteError, Code } from "../../errors/index.ts";
import type { WorkerLimits, WorkerRef } from "../driver.ts";

/** A sandbox's cgroup leaf, its worker's limits and what its start recorded. */
export interface LimitedCgroup {
  path: string;
  limits: WorkerLimits;
  baseline: OomBaseline;
}

/**
 * How this machine's cgroups are mounted. v1: one directory per hierarchy under the root
 * (`memory`, `cpu`, `cpu,cpuacct`, `systemd`…); v2: one unified tree at the root. A hybrid
 * machine (v1 hierarchies plus a v2 `unified` mount without controllers) is v1, as for runsc.
 */
export type CgroupLayout =
  | { version: 2; root: string }
  | {
      version: 1;
      root: string;
      /** Every hierarchy's directory: runsc creates a sandbox's cgroup in each. */
      hierarchies: string[];
      memory?: string;
      cpu?: string;
      cpuacct?: string;
    };

/** Reads the layout under root (default /sys/fs/cgroup); undefined when there are no cgroups. */
export function detectCgroups(root = "/sys/fs/cgroup"): CgroupLayout | undefined {
  if (existsSync(join(root, "cgroup.controllers"))) return { version: 2, root };
  let names: string[];
  try {
    names = readdirSync(root).sort();
  } catch {
    return undefined;
  }
  const layout: CgroupLayout & { version: 1 } = { version: 1, root, hierarchies: [] };
  for (const name of names) {
    const dir = join(root, name);
    // `cpu` → `cpu,cpuacct` links name a hierarchy twice; the v2 `unified` mount is not one.
    if (!lstatSync(dir).isDirectory() || !existsSync(join(dir, "cgroup.procs"))) continue;
    if (existsSync(join(dir, "cgroup.controllers"))) continue;
    layout.hierarchies.push(dir);
    const controllers = name.split(",");
    for (const c of ["memory", "cpu", "cpuacct"] as const)
      if (controllers.includes(c)) layout[c] = dir;
  }
  return layout.hierarchies.length ? layout : undefined;
}

/** `134217728` → `128Mi`: how people wrote the limit. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ["Gi", 2 ** 30],
    ["Mi", 2 ** 20],
    ["Ki", 2 ** 10],
  ] as const)
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  return `${bytes} bytes`;
}

/** What a start recorded, to tell afterwards whether its sandbox went past its memory limit. */
export interface OomBaseline {
  /** v2: the worker's oom_kill count before the start. */
  kills?: number;
}

/**
 * The cgroups of a node's workers: a parent per worker (`/ate/<prefix>/w<index>`, made by
 * ate) and, in it, a leaf per sandbox start with a fresh name that runsc creates, limits and
 * removes (runsc applies no limits to a leaf that already exists).
 */
export class WorkerCgroups {
  readonly layout: CgroupLayout | undefined;

  /** `root`: where the cgroup filesystems are mounted. */
  constructor(
    private readonly prefix: string,
    root = "/sys/fs/cgroup",
  ) {
    this.layout = detectCgroups(root);
  }

  /** The worker's cgroup, as a path from every hierarchy's root. */
  parent(index: number): string {
    return `/ate/${this.prefix}/w${index}`;
  }

  /** A fresh leaf for the worker's next sandbox (its OCI `linux.cgroupsPath`). */
  newLeaf(index: number): string {
    return `${this.parent(index)}/sb-${randomBytes(4).toString("hex")}`;
  }

  /** Creates the worker's cgroup, first checking this machine can enforce the limits. */
  async prepare(index: number, limits: WorkerLimits): Promise<void> {
    const l = this.layout;
    const needed = [
      ...(limits.memoryBytes ? ["memory"] : []),
      ...(limits.cpuMillis ? ["cpu"] : []),
    ];
    const available =
      l?.version === 2
        ? (await readFile(join(l.root, "cgroup.controllers"), "utf8")).trim().split(/\s+/)
        : l
          ? (["memory", "cpu"] as const).filter((c) => l[c])
          : [];
    const missing = needed.filter((c) => !available.includes(c));
    if (missing.length)
      throw new AteError(
        Code.FailedPrecondition,
        `worker limits need the cgroup controller(s) ${missing.join(", ")}, which this node does not have (${l ? `cgroup v${l.version} at ${l.root}` : "no cgroups under /sys/fs/cgroup"}): enable them, or give the pool no ${missing.includes("memory") ? "memory" : "cpu"} limit`,
      );
    if (!l) return;
    if (l.version === 1) {
      for (const h of l.hierarchies) await mkdir(join(h, this.parent(index)), { recursive: true });
      return;
    }
    // v2: a cgroup's controllers are those its parent enables for its children.
    const steps = this.parent(index).split("/").filter(Boolean);
    for (let i = 0; i <= steps.length; i++) {
      const dir = join(l.root, ...steps.slice(0, i));
      await mkdir(dir, { recursive: true });
      for (const c of needed) {
        await writeFile(join(dir, "cgroup.subtree_control"), `+${c}`).catch((err: Error) => {
          throw new AteError(
            Code.FailedPrecondition,
            `cannot enable the ${c} controller for ${dir}'s children (${err.message}): a cgroup with processes of its own cannot (cgroup v2); run the node agent where ate may manage ${l.root}/ate`,
          );
        });
      }
    }
  }

  /**
   * A fresh cgroup leaf for the worker's next sandbox, if the worker has limits: prepared again
   * at every start (the node may have rebooted since the worker was made), its baseline taken.
   */
  async forSandbox(worker: WorkerRef): Promise<LimitedCgroup | undefined> {
    const limits = worker.settings?.limits;
    if (!hasLimits(worker.name, limits)) return undefined;
    await this.prepare(worker.index, limits);
    const baseline = await this.beforeStart(worker.index);
    return { path: this.newLeaf(worker.index), limits, baseline };
  }

  /** Before each start: v1 resets the worker's peak memory, v2 notes its OOM kills so far. */
  async beforeStart(index: number): Promise<OomBaseline> {
    const l = this.layout;
    if (l?.version === 2) return this.oomBaseline(index);
    if (l?.memory) {
      const dir = join(l.memory, this.parent(index));
      // Charges the last sandbox left behind would count toward this one's peak.
      await writeFile(join(dir, "memory.force_empty"), "0").catch(() => {});
      await writeFile(join(dir, "memory.max_usage_in_bytes"), "0").catch(() => {});
    }
    return {};
  }

  /** What tells later whether the worker's sandbox was OOM-killed, read without changing it. */
  async oomBaseline(index: number): Promise<OomBaseline> {
    const l = this.layout;
    return l?.version === 2
      ? { kills: await this.oomKillsIn(join(l.root, this.parent(index))) }
      : {};
  }

  /** OOM kills inside a running sandbox's leaf so far (0 when unknown). */
  oomKills(leaf: string): Promise<number> {
    const l = this.layout;
    if (l?.version === 2) return this.oomKillsIn(join(l.root, leaf));
    if (!l?.memory) return Promise.resolve(0);
    return readFile(join(l.memory, leaf, "memory.oom_control"), "utf8").then(
      (t) => Number(t.match(/^oom_kill (\d+)/m)?.[1] ?? 0),
      () => 0,
    );
  }

  /**
   * Kills every process of the sandbox (what v2's memory.oom.group does): after an OOM kill
   * of one of its processes a gVisor sandbox hangs instead of exiting.
   */
  async killAll(leaf: string): Promise<void> {
    const l = this.layout;
    const dir = l?.version === 2 ? join(l.root, leaf) : l?.memory && join(l.memory, leaf);
    if (!dir) return;
    if (
      l?.version === 2 &&
      (await writeFile(join(dir, "cgroup.kill"), "1").then(
        () => true,
        () => false,
      ))
    )
      return;
    for (let round = 0; round < 5; round++) {
      const pids = (await readFile(join(dir, "cgroup.procs"), "utf8").catch(() => ""))
        .split("\n")
        .filter(Boolean)
        .map(Number);
      if (!pids.length) return;
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  }

  /**
   * Whether a sandbox that stopped went past its memory limit: v2, the worker's oom_kill count
   * grew; v1, the kernel log names its leaf as the OOM cgroup, or (log unreadable) the
   * worker's peak memory reached the limit.
   */
  async exitedOnOom(
    index: number,
    leaf: string,
    baseline: OomBaseline,
    memoryBytes: number,
  ): Promise<boolean> {
    const l = this.layout;
    if (l?.version === 2)
      return (await this.oomKillsIn(join(l.root, this.parent(index)))) > (baseline.kills ?? 0);
    if (!l?.memory) return false;
    const logged = kernelLogNamesOom(leaf);
    if (logged !== undefined) return logged;
    const peak = await readFile(
      join(l.memory, this.parent(index), "memory.max_usage_in_bytes"),
      "utf8",
    ).then(Number, () => 0);
    return peak >= memoryBytes;
  }

  /** Removes the worker's cgroup (and ate's directories above it once empty) everywhere. */
  async release(index: number): Promise<void> {
    const l = this.layout;
    if (!l) return;
    const parent = this.parent(index);
    for (const h of l.version === 2 ? [l.root] : l.hierarchies) {
      const dir = join(h, parent);
      // Leaves of sandboxes runsc could not clean up (cgroups are removed with rmdir only).
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => []))
        if (e.isDirectory()) await rmdir(join(dir, e.name)).catch(() => {});
      for (const d of [dir, join(h, "ate", this.prefix), join(h, "ate")])
        await rmdir(d).catch(() => {}); // busy (another worker, another node agent): stays
    }
  }

  /** The worker's CPU time so far, in nanoseconds (0 when unknown). */
  async cpuUsageNs(cgroup: string): Promise<number> {
    const l = this.layout;
    if (l?.version === 2) {
      const stat = await readFile(join(l.root, cgroup, "cpu.stat"), "utf8").catch(() => "");
      return Number(stat.match(/^usage_usec (\d+)/m)?.[1] ?? 0) * 1000;
    }
    if (!l?.cpuacct) return 0;
    return readFile(join(l.cpuacct, cgroup, "cpuacct.usage"), "utf8").then(Number, () => 0);
  }

  /** The memory limit in force on a cgroup (undefined when none or unknown). */
  async memoryLimit(cgroup: string): Promise<number | undefined> {
    const l = this.layout;
    const file =
      l?.version === 2
        ? join(l.root, cgroup, "memory.max")
        : l?.memory && join(l.memory, cgroup, "memory.limit_in_bytes");
    const text = file ? (await readFile(file, "utf8").catch(() => "")).trim() : "";
    const n = Number(text);
    // v1 says "no limit" with a huge number, v2 with "max".
    return text && Number.isFinite(n) && n < 2 ** 62 ? n : undefined;
  }

  /** The CPU quota in force on a cgroup, in thousandths of a core (undefined when none). */
  async cpuMillis(cgroup: string): Promise<number | undefined> {
    const l = this.layout;
    let quota: number;
    let period: number;
    if (l?.version === 2) {
      const text = await readFile(join(l.root, cgroup, "cpu.max"), "utf8").catch(() => "max");
      [quota, period] = text.trim().split(/\s+/).map(Number) as [number, number];
    } else if (l?.cpu) {
      const read = (f: string) => readFile(join(l.cpu as string, cgroup, f), "utf8").then(Number);
      [quota, period] = await Promise.all([
        read("cpu.cfs_quota_us"),
        read("cpu.cfs_period_us"),
      ]).catch(() => [-1, 0]);
    } else return undefined;
    return quota > 0 && period > 0 ? Math.round((quota / period) * 1000) : undefined;
  }

  private oomKillsIn(dir: string): Promise<number> {
    return readFile(join(dir, "memory.events"), "utf8").then(
      (t) => Number(t.match(/^oom_kill (\d+)/m)?.[1] ?? 0),
      () => 0,
    );
  }
}

/**
 * Whether the kernel log (/dev/kmsg) records an OOM kill with `leaf` as the cgroup whose limit
 * was hit; undefined when the log cannot be read (e.g. inside a container).
 */
export function kernelLogNamesOom(leaf: string, path = "/dev/kmsg"): boolean | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  const marks = [`oom_memcg=${leaf},`, `killed as a result of limit of ${leaf}\n`];
  const buf = Buffer.alloc(16 * 1024);
  try {
    for (;;) {
      let n: number;
      try {
        // Non-blocking: each read is one record; EAGAIN once all were read.
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EPIPE") continue; // records were overwritten meanwhile: read on
        if (code === "EAGAIN") return false;
        return undefined;
      }
      if (n === 0) return false;
      const record = `${buf.toString("utf8", 0, n)}\n`;
      if (marks.some((m) => record.includes(m))) return true;
    }
  } finally {
    closeSync(fd);
  }
}

/** Whether a worker has any limit to enforce; refuses limits that are no whole positive number. */
export function hasLimits(
  worker: string,
  limits: WorkerLimits | undefined,
): limits is WorkerLimits {
  if (!limits) return false;
  for (const [field, value] of Object.entries(limits)) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value <= 0))
      throw new AteError(
        Code.InvalidArgument,
        `worker ${worker}: limits.${field} ${JSON.stringify(value)} must be a whole number above 0 (${field === "memoryBytes" ? "bytes" : "thousandths of a core"})`,
      );
  }
  return Boolean(limits.memoryBytes || limits.cpuMillis);
}
