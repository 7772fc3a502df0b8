export {
  GoldenController,
  type GoldenControllerOptions,
  goldenActorId,
} from "./golden-controller.ts";
export { PoolController, type PoolControllerOptions } from "./pool-controller.ts";
