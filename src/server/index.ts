export { type ApiServerOptions, type RunningApiServer, startApiServer } from "./api-server.ts";
export {
  assetsPathPrefix,
  type ServedAsset,
  ServedAssets,
  servedAssetUrl,
} from "./served-assets.ts";
