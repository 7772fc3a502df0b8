export { NodeClient } from "./node-client.ts";
export {
  type NodeApiServerOptions,
  type RunningNodeApiServer,
  startNodeApiServer,
} from "./node-server.ts";
export { nodeService } from "./node-service.ts";
export { NodeRegistryClient } from "./registry-client.ts";
export { nodeRegistryService } from "./registry-service.ts";
export { inProcessNodeTransport, nodeHttpTransport, registryHttpTransport } from "./transports.ts";
