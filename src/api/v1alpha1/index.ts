export type {
  ActorTemplate,
  ActorTemplateSpec,
  ActorTemplateStatus,
  TemplatePhase,
} from "./actortemplate.ts";
export { ActorTemplateType } from "./actortemplate.ts";
export type { SnapshotScopeName } from "./anchor-fields.ts";
export { type SandboxClass, sandboxClasses } from "./common.ts";
export { resourceTypes, typeForName, typeForObject } from "./registry.ts";
export type { SandboxAsset, SandboxConfig, SandboxConfigSpec } from "./sandboxconfig.ts";
export { requiredAssets, SandboxConfigType } from "./sandboxconfig.ts";
export type { WorkerPool, WorkerPoolSpec, WorkerPoolStatus } from "./workerpool.ts";
export { WorkerPoolType } from "./workerpool.ts";
