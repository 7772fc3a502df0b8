export type { ActorSuspender } from "./evacuate.ts";
export {
  GoldenController,
  type GoldenControllerOptions,
  goldenActorId,
  type IdleEvictor,
} from "./golden-controller.ts";
export { defaultMaxWorkers, type NodeCapacity } from "./pool-capacity.ts";
export { PoolController, type PoolControllerOptions } from "./pool-controller.ts";
