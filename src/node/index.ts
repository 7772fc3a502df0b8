export { manifestName, type SnapshotManifest } from "../snapshots/index.ts";
export type * from "./api.ts";
export { maxLogPieceBytes } from "./api.ts";
export { AssetCache, assetsForArch, nodeArch } from "./assets/index.ts";
export {
  type EntryProxyOptions,
  type RouterTokenCheckOptions,
  type RunningEntryProxy,
  routerTokenCheck,
  startEntryProxy,
} from "./entry-proxy.ts";
export { goldenActorId, goldenAtespace } from "./golden.ts";
export {
  buildNodeAppImage,
  buildNodeRootfs,
  ImageStore,
  type PullProgress,
  packAndPush,
  RegistryClient,
} from "./images/index.ts";
export type { ActorRecord } from "./layout.ts";
export { NodeMembership, type NodeMembershipOptions } from "./membership.ts";
export { NodeAgent, type NodeAgentOptions } from "./node-agent.ts";
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
