export type {
  CheckpointOptions,
  SandboxContainer,
  SandboxDriver,
  SandboxExit,
  SandboxMount,
  SandboxRuntime,
  SandboxSpec,
  WorkerLimits,
  WorkerRef,
  WorkerSettings,
} from "./driver.ts";
export { maxContainers } from "./driver.ts";
export { GvisorDriver, type GvisorDriverOptions } from "./gvisor/index.ts";
