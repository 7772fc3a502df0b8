export type * from "./api.ts";
export { AssetCache, assetsForArch, nodeArch } from "./assets/index.ts";
export {
  buildNodeAppImage,
  buildNodeRootfs,
  ImageStore,
  type PullProgress,
  packAndPush,
  RegistryClient,
} from "./images/index.ts";
export { manifestName, type SnapshotManifest } from "./manifest.ts";
export { type ActorRecord, NodeAgent, type NodeAgentOptions } from "./node-agent.ts";
