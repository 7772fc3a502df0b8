export { AssetCache, type AssetCacheOptions, assetsForArch, nodeArch } from "./asset-cache.ts";
