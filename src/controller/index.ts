export { goldenActorId } from "../node/index.ts";
export type { ActorSuspender } from "./evacuate.ts";
export {
  GoldenController,
  type GoldenControllerOptions,
  type IdleEvictor,
} from "./golden-controller.ts";
export { NodeWorkers } from "./node-workers.ts";
export {
  defaultMaxWorkers,
  machineResources,
  type NodeCapacity,
  type NodeResources,
} from "./pool-capacity.ts";
export { PoolController, type PoolControllerOptions } from "./pool-controller.ts";
export { egressAnnotation } from "./pool-settings.ts";
