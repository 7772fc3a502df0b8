export {
  type ActivityActors,
  ActivityController,
  type ActivityControllerOptions,
  activityDefaults,
  idleTimeoutAnnotation,
} from "./activity.ts";
export { ActivityBoard, type RouterReport } from "./activity-board.ts";
export type { ActorWatchEvent } from "./actor-watch.ts";
export { type ControlCaller, controlCallerKey } from "./caller.ts";
export { controlService } from "./connect-service.ts";
export {
  type ActorRef,
  ControlPlane,
  type ControlPlaneOptions,
  defaultSnapshotLocation,
  goldenAtespace,
} from "./control-plane.ts";
export { collectGarbage, defaultGcGraceMs, type GcOptions, type GcReport } from "./gc.ts";
export { defaultGcIntervalMs, runGcLoop } from "./gc-loop.ts";
export {
  checkNodeReach,
  checkRegistration,
  isLoopbackHost,
  type NodeReachRules,
  registrationLimits,
} from "./node-registration.ts";
export {
  NodeRegistry,
  type NodeRegistryOptions,
  nodeRegistryDefaults,
} from "./node-registry.ts";
export { type NodeDirectory, type NodeInfo, StaticNodeDirectory } from "./nodes.ts";
export {
  resolveSandboxAssets,
  resolveSandboxConfig,
  type SandboxAssets,
} from "./sandbox-assets.ts";
export { candidateWorkers, eligiblePools } from "./scheduler.ts";
export { readSecrets, type SecretLookup, type SecretReading } from "./secret-env.ts";
export { secretLookupOf } from "./secret-lookup.ts";
export { workloadOf } from "./workload.ts";
