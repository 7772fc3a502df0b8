import type {
  SandboxAsset,
  SandboxClass,
  SandboxConfig,
  WorkerPool,
} from "../api/v1alpha1/index.ts";
import { SandboxConfigType } from "../api/v1alpha1/index.ts";
import { AteError, Code } from "../errors/index.ts";
import type { ResourceStore } from "../resources/index.ts";

/**
 * The runtime a pool's workers boot actors with: exactly the SandboxConfig shape, plus which
 * config it came from. The node agent projects `assets` onto its own architecture.
 */
export interface SandboxAssets {
  sandboxClass: SandboxClass;
  /** arch → asset name → {url, sha256} */
  assets: Record<string, Record<string, SandboxAsset>>;
  /** The SandboxConfig these assets were resolved from. */
  configName: string;
}

/**
 * Picks a pool's SandboxConfig: `spec.sandboxConfigName` when set (its class must equal the
 * pool's), else the single `default: true` config of the pool's class. Every other case is a
 * FAILED_PRECONDITION that names the pool, the class and the configs involved.
 */
export function resolveSandboxConfig(
  pool: WorkerPool,
  configs: readonly SandboxConfig[],
): SandboxConfig {
  const poolName = `WorkerPool "${pool.metadata.namespace ?? "default"}/${pool.metadata.name}"`;
  const poolClass = pool.spec.sandboxClass ?? "gvisor";
  const ofClass = configs
    .filter((c) => (c.spec.sandboxClass ?? "gvisor") === poolClass)
    .map((c) => c.metadata.name);
  const listed = ofClass.length
    ? `SandboxConfigs of class ${poolClass}: ${ofClass.join(", ")}`
    : `no SandboxConfig has class ${poolClass}`;
  const wanted = pool.spec.sandboxConfigName;

  if (wanted) {
    const config = configs.find((c) => c.metadata.name === wanted);
    if (!config) {
      throw new AteError(
        Code.FailedPrecondition,
        `${poolName} (sandboxClass ${poolClass}) names SandboxConfig "${wanted}", which does not exist: apply it or change spec.sandboxConfigName (${listed})`,
      );
    }
    const configClass = config.spec.sandboxClass ?? "gvisor";
    if (configClass !== poolClass) {
      throw new AteError(
        Code.FailedPrecondition,
        `${poolName} has sandboxClass ${poolClass} but its SandboxConfig "${wanted}" has sandboxClass ${configClass}: name a ${poolClass} SandboxConfig (${listed})`,
      );
    }
    return config;
  }

  const defaults = configs.filter(
    (c) => (c.spec.sandboxClass ?? "gvisor") === poolClass && c.spec.default === true,
  );
  if (defaults.length === 1) return defaults[0] as SandboxConfig;
  if (defaults.length === 0) {
    throw new AteError(
      Code.FailedPrecondition,
      `${poolName} names no SandboxConfig and there is no default SandboxConfig for sandboxClass ${poolClass}: set spec.default: true on one ${poolClass} SandboxConfig or set the pool's spec.sandboxConfigName (${listed})`,
    );
  }
  throw new AteError(
    Code.FailedPrecondition,
    `${poolName} names no SandboxConfig and several SandboxConfigs are the default for sandboxClass ${poolClass}: ${defaults
      .map((c) => c.metadata.name)
      .join(
        ", ",
      )}; keep spec.default: true on exactly one, or set the pool's spec.sandboxConfigName`,
  );
}

/** Resolves a pool to its runtime assets from the SandboxConfigs in the store. */
export async function resolveSandboxAssets(
  store: ResourceStore,
  pool: WorkerPool,
): Promise<SandboxAssets> {
  const { items } = await store.list(SandboxConfigType);
  const config = resolveSandboxConfig(pool, items);
  return {
    sandboxClass: config.spec.sandboxClass ?? "gvisor",
    assets: structuredClone(config.spec.assets ?? {}),
    configName: config.metadata.name,
  };
}
