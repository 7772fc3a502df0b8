export {
  ImageStore,
  type ImageStoreOptions,
  type PulledImage,
  type PullProgress,
} from "./image-store.ts";
export type { ImageConfig } from "./media-types.ts";
export { buildNodeAppImage, type NodeAppImageOptions } from "./node-app.ts";
export { buildNodeRootfs } from "./node-rootfs.ts";
export {
  type PackedImage,
  type PackOptions,
  packAndPush,
  packImage,
  pushImage,
} from "./pack.ts";
export { formatReference, type ImageReference, parseReference } from "./reference.ts";
export {
  RegistryClient,
  type RegistryClientOptions,
  type RegistryCredentials,
} from "./registry-client.ts";
