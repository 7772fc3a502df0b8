export { resolveActor } from "./address.ts";
export {
  type ActivityReport,
  type ActorChange,
  httpPortAnnotation,
  type RoutedActor,
  type RouterBackend,
  type WatchHandler,
} from "./backend.ts";
export { controlHttpTransport } from "./http-transport.ts";
export { inProcessControlTransport, inProcessRouterPrincipal } from "./in-process-transport.ts";
export { RemoteBackend, type RemoteBackendOptions } from "./remote-backend.ts";
export { Router, type RouterOptions } from "./router.ts";
