export { ensureDefaultRuntime } from "./default-runtime.ts";
export { checkPrerequisites, findExecutable } from "./prerequisites.ts";
export {
  type RunningSubstrate,
  type StopOptions,
  type SubstrateOptions,
  startSubstrate,
} from "./substrate.ts";
