export { controlService } from "./connect-service.ts";
export {
  type ActorRef,
  ControlPlane,
  type ControlPlaneOptions,
  defaultSnapshotLocation,
  goldenAtespace,
} from "./control-plane.ts";
export type { ActorHooks } from "./lifecycle.ts";
export { type NodeDirectory, StaticNodeDirectory } from "./nodes.ts";
export {
  resolveSandboxAssets,
  resolveSandboxConfig,
  type SandboxAssets,
} from "./sandbox-assets.ts";
export { candidateWorkers, eligiblePools } from "./scheduler.ts";
export { workloadOf } from "./workload.ts";
