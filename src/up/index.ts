export {
  type ControlPlaneComponentOptions,
  controlPlaneDefaults,
  type RunningControlPlane,
  startControlPlane,
} from "./controlplane-component.ts";
export { ensureDefaultRuntime } from "./default-runtime.ts";
export { checkMachineToken, type MachineTokenCheck } from "./machine-token.ts";
export {
  type NodeComponentOptions,
  type NodeListen,
  type RunningNode,
  startNode,
} from "./node-component.ts";
export { checkPrerequisites, findExecutable } from "./prerequisites.ts";
export {
  type RouterComponentOptions,
  type RunningRouter,
  startRouter,
} from "./router-component.ts";
export {
  controlPlaneLock,
  lockStateDir,
  nodeLock,
  type StateLockKind,
  upLock,
} from "./state-lock.ts";
export {
  type RunningSubstrate,
  type StopOptions,
  type SubstrateOptions,
  startSubstrate,
} from "./substrate.ts";
export { readTokenFile } from "./token-file.ts";
