export type * from "./api.ts";
export { maxLogPieceBytes } from "./api.ts";
export { AssetCache, assetsForArch, nodeArch } from "./assets/index.ts";
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
export { manifestName, type SnapshotManifest } from "./manifest.ts";
export { NodeAgent, type NodeAgentOptions } from "./node-agent.ts";
