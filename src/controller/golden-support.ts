/**
 * Whether anything can run a template's golden actor, judged before any boot: a snapshot
 * location ate cannot write to, or a sandbox class or architecture no live node offers, fails
 * the template at once (a boot would only fail at the snapshot, or find no worker).
 */
import type { ActorTemplate, SandboxConfig, WorkerPool } from "../api/v1alpha1/index.ts";
import { snapshotSchemes } from "../blob/index.ts";
import { eligiblePools, type NodeInfo } from "../controlplane/index.ts";
import type { Actor } from "../records/index.ts";
import { canRunPool, liveNodesClause, needsClause, poolArchs } from "./node-support.ts";
import type { Refusal } from "./pool-refusal.ts";

/**
 * The reasons of a template Failed for want of support. Such a template waits for something
 * to change (a node registers or changes, the template is applied anew) rather than a timer.
 */
export const unsupportedReasons: ReadonlySet<string> = new Set([
  "UnsupportedSnapshotLocation",
  "NoSuitableNode",
]);

/** What the judgement looks at, gathered once per pass. */
export interface SupportView {
  /** The live nodes; undefined when the controller has no node directory (not judged then). */
  live?: readonly NodeInfo[];
  pools: readonly WorkerPool[];
  configs: readonly SandboxConfig[];
}

/** Why nothing can run the template's golden actor; undefined when something may. */
export function templateRefusal(template: ActorTemplate, view: SupportView): Refusal | undefined {
  return (
    locationRefusal(template) ?? (view.live ? nodeRefusal(template, view.live, view) : undefined)
  );
}

// The spec is immutable: a fix is a new template (delete, then apply), which the advice says.
const reapply = "delete the template and apply it again with";

function locationRefusal(template: ActorTemplate): Refusal | undefined {
  const location = template.spec.snapshotsConfig.location;
  let scheme: string;
  try {
    scheme = new URL(location).protocol;
  } catch {
    return {
      reason: "UnsupportedSnapshotLocation",
      message: `spec.snapshotsConfig.location "${location}" is not a URI: ${reapply} a file:///dir or s3://bucket/prefix location`,
    };
  }
  if (snapshotSchemes.includes(scheme)) return undefined;
  return {
    reason: "UnsupportedSnapshotLocation",
    message: `spec.snapshotsConfig.location "${location}": ate cannot write snapshots to ${scheme}// (only to ${snapshotSchemes.map((s) => `${s}//`).join(" or ")}), so no golden snapshot can be taken: ${reapply} a ${snapshotSchemes.map((s) => `${s}//`).join(" or ")} location`,
  };
}

function nodeRefusal(
  template: ActorTemplate,
  live: readonly NodeInfo[],
  view: SupportView,
): Refusal | undefined {
  const cls = template.spec.sandboxClass ?? "gvisor";
  if (!live.some((n) => n.sandboxClasses.includes(cls)))
    return {
      reason: "NoSuitableNode",
      message: `no live node offers spec.sandboxClass ${cls}; ${liveNodesClause(live)}: start a node agent that offers ${cls}, or ${reapply} a sandboxClass they offer`,
    };
  // The golden actor has no worker selector of its own: the template's alone picks its pools.
  const pools = eligiblePools(template, {} as Actor, view.pools);
  // No pool yet is not a node's matter: the boot reports it (and a pool may be on its way).
  if (!pools.length) return undefined;
  const archs = pools.map((p) => poolArchs(p, view.configs));
  if (pools.some((p, i) => live.some((n) => canRunPool(n, p, archs[i])))) return undefined;
  const shown = pools
    .slice(0, 5)
    .map(
      (p, i) =>
        `WorkerPool ${p.metadata.namespace ?? "default"}/${p.metadata.name} (${needsClause(cls, archs[i])})`,
    )
    .join(", ");
  const more = pools.length > 5 ? ` and ${pools.length - 5} more` : "";
  return {
    reason: "NoSuitableNode",
    message: `no live node can run the pools this template selects: ${shown}${more}; ${liveNodesClause(live)}: start a node agent of one of these architectures, or give the pools a SandboxConfig with assets for the nodes' architecture`,
  };
}
