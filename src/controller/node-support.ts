/**
 * What the live nodes support, as the controllers judge it: a pool runs on a node offering its
 * sandbox class and, when its SandboxConfig has assets, one of their architectures. Shared by
 * the pool controller (placing workers, and why none are placed) and the golden controller
 * (templates nothing can run), so both tell the same story.
 */
import type { SandboxConfig, WorkerPool } from "../api/v1alpha1/index.ts";
import { type NodeInfo, resolveSandboxConfig } from "../controlplane/index.ts";

/** The architectures the pool's SandboxConfig has assets for; undefined: any (none resolved). */
export function poolArchs(
  pool: WorkerPool,
  configs: readonly SandboxConfig[],
): string[] | undefined {
  try {
    const archs = Object.keys(resolveSandboxConfig(pool, configs).spec.assets ?? {});
    return archs.length ? archs.sort() : undefined;
  } catch {
    return undefined; // no runtime yet: placing is not where that is reported
  }
}

/** Whether the node can run the pool's workers (`archs` from poolArchs). */
export function canRunPool(
  node: NodeInfo,
  pool: WorkerPool,
  archs: readonly string[] | undefined,
): boolean {
  return (
    node.sandboxClasses.includes(pool.spec.sandboxClass ?? "gvisor") &&
    (!archs || archs.includes(node.arch))
  );
}

/** What running needs, for a message: `sandboxClass gvisor, arch arm64 (…)`. */
export function needsClause(sandboxClass: string, archs: readonly string[] | undefined): string {
  return `sandboxClass ${sandboxClass}${archs ? `, arch ${archs.join(" or ")} (its SandboxConfig's assets)` : ""}`;
}

/** The live nodes with what each offers, for a message (the first ten). */
export function liveNodesClause(live: readonly NodeInfo[]): string {
  return live.length
    ? `the live nodes are ${live
        .slice(0, 10)
        .map((n) => `${n.name} (${n.sandboxClasses.join(", ")}; ${n.arch})`)
        .join(", ")}${live.length > 10 ? ` and ${live.length - 10} more` : ""}`
    : "no node is live (registered and heartbeating)";
}
