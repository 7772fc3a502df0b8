import type { SandboxContainer, WorkerLimits } from "../driver.ts";

/** CFS period of a limited sandbox: 100 ms, the kernel's default. */
export const cpuPeriodUs = 100_000;

/** The largest CFS quota the kernel takes (MAX_BW in kernel/sched). */
const maxCpuQuotaUs = 2 ** 44 - 1;

/** A sandbox's cgroup (a fresh leaf, which runsc creates) and the limits runsc sets on it. */
export interface SandboxCgroup {
  path: string;
  limits: WorkerLimits;
}

/** `linux.resources` for the worker's limits: memory in bytes, CPU as a CFS quota per period. */
export function ociResources(limits: WorkerLimits): Record<string, unknown> {
  return {
    ...(limits.memoryBytes ? { memory: { limit: limits.memoryBytes } } : {}),
    ...(limits.cpuMillis
      ? {
          cpu: {
            // The kernel refuses quotas under 1 ms and over 2^44-1 µs (a limit of ~176 million
            // cores, which no node has: the largest quota is as good as none).
            quota: Math.min(
              maxCpuQuotaUs,
              Math.max(1000, Math.round((limits.cpuMillis * cpuPeriodUs) / 1000)),
            ),
            period: cpuPeriodUs,
          },
        }
      : {}),
  };
}

/**
 * The OCI runtime spec (config.json) of one container of a sandbox. `annotations`: a container
 * of a multi-container sandbox (subcontainers.ts podAnnotations); a further container has no
 * cgroup of its own (its processes run in the sandbox, and runsc starts its gofer in the
 * sandbox's cgroup), so the worker's limits stay on the one cgroup, the root's.
 */
export function ociSpec(
  container: SandboxContainer,
  hostname: string,
  netnsPath: string,
  cgroup?: SandboxCgroup,
  annotations?: Record<string, string>,
): Record<string, unknown> {
  return {
    ociVersion: "1.0.2",
    ...(annotations ? { annotations } : {}),
    process: {
      terminal: false,
      user: { uid: container.uid, gid: container.gid },
      args: container.args,
      env: container.env,
      cwd: container.cwd,
      noNewPrivileges: true,
    },
    root: { path: container.rootfs, readonly: true },
    hostname,
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      {
        destination: "/dev",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
      },
      {
        destination: "/dev/pts",
        type: "devpts",
        source: "devpts",
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
      },
      {
        destination: "/dev/shm",
        type: "tmpfs",
        source: "shm",
        options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
      },
      {
        destination: "/sys",
        type: "sysfs",
        source: "sysfs",
        options: ["nosuid", "noexec", "nodev", "ro"],
      },
      {
        destination: "/tmp",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "nodev", "mode=1777"],
      },
      ...container.mounts.map((m) => ({
        destination: m.destination,
        type: "bind",
        source: m.source,
        options: ["rbind", m.readonly ? "ro" : "rw"],
      })),
    ],
    linux: {
      namespaces: [
        { type: "pid" },
        { type: "ipc" },
        { type: "uts" },
        { type: "mount" },
        { type: "network", path: netnsPath },
      ],
      ...(cgroup ? { cgroupsPath: cgroup.path, resources: ociResources(cgroup.limits) } : {}),
    },
  };
}
