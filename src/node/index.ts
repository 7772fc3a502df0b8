export { manifestName, type SnapshotManifest } from "../snapshots/index.ts";
export type * from "./api.ts";
export { maxLogPieceBytes } from "./api.ts";
export { AssetCache, assetsForArch, nodeArch } from "./assets/index.ts";
export { type EntryProxyOptions, type RunningEntryProxy, startEntryProxy } from "./entry-proxy.ts";
export { nodeEntryToken } from "./entry-token.ts";
export { goldenActorId, goldenAtespace } from "./golden.ts";
export {
  buildNodeAppImage,
  buildNodeRootfs,
  ImageStore,
  type PackedImage,
  type PullProgress,
  packAndPush,
  packImage,
  pushImage,
  RegistryClient,
} from "./images/index.ts";
export type { ActorRecord } from "./layout.ts";
export { NodeMembership, type NodeMembershipOptions } from "./membership.ts";
export { NodeAgent, type NodeAgentOptions } from "./node-agent.ts";
export { timed } from "./steps.ts";
export {
  inProcessNodeTransport,
  type NodeApiServerOptions,
  NodeClient,
  NodeRegistryClient,
  nodeHttpTransport,
  nodeRegistryService,
  nodeService,
  type RunningNodeApiServer,
  registryHttpTransport,
  startNodeApiServer,
} from "./wire/index.ts";
export { checkWorkerAddress, isWorkerAddress, workerAddressRange } from "./worker-address.ts";
