export {
  ControlPlaneMetrics,
  type TransitionKind,
  type WorkerSource,
} from "./controlplane-metrics.ts";
export { meteredBlobStore } from "./metered-blob-store.ts";
export { NodeMetrics } from "./node-metrics.ts";
export {
  exposition,
  latencyBuckets,
  type MetricsResponse,
  Registry,
  secondsSince,
  serveMetrics,
} from "./registry.ts";
