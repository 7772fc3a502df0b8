export {
  type ConnectionLimits,
  defaultConnectionLimits,
  dualProtocolServer,
  type Handler,
} from "./dual-protocol.ts";
