export { AssetCache, type AssetCacheOptions, assetsForArch, nodeArch } from "./asset-cache.ts";
export {
  type AssetAccessOptions,
  type AssetBearerToken,
  assetAllowHostFlag,
  assetDirFlag,
  canonicalIp,
  forbiddenAddress,
  machineRunscDirs,
} from "./asset-policy.ts";
