export { resolveActor } from "./address.ts";
export {
  EmbeddedBackend,
  httpPortAnnotation,
  idleTimeoutAnnotation,
  type RouterBackend,
} from "./backend.ts";
export { Router, type RouterOptions } from "./router.ts";
