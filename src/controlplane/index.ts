export {
  resolveSandboxAssets,
  resolveSandboxConfig,
  type SandboxAssets,
} from "./sandbox-assets.ts";
