export type {
  SandboxExit,
  WorkerLimits,
  WorkerSettings,
  CheckpointOptions,
  SandboxContainer,
  SandboxDriver,
  SandboxMount,
  SandboxRuntime,
  SandboxSpec,
  WorkerRef,
} from "./driver.ts";
export { GvisorDriver, type GvisorDriverOptions } from "./gvisor/index.ts";
