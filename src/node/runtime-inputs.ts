import { AteError, Code } from "../errors/index.ts";
import type { SandboxDriver, SandboxRuntime } from "../sandbox/index.ts";
import type { Workload } from "./api.ts";
import type { AssetCache } from "./assets/index.ts";
import type { ImageStore, PulledImage } from "./images/index.ts";

/** What a sandbox starts from, made local: the runtime's assets by sha256 and the images by digest. */
export async function fetchRuntime(
  cache: AssetCache,
  driver: SandboxDriver,
  assets: Record<string, { url: string; sha256: string }>,
  arch: string,
  signal?: AbortSignal,
): Promise<SandboxRuntime> {
  const missing = driver.requiredAssets.filter((n) => !assets[n]);
  if (missing.length)
    throw new AteError(
      Code.FailedPrecondition,
      `the ${driver.sandboxClass} runtime lacks asset(s) ${missing.join(", ")} for ${arch}`,
    );
  const fetched = await Promise.all(
    Object.entries(assets).map(
      async ([name, asset]) =>
        [name, await cache.fetch(asset, { name, ...(signal ? { signal } : {}) })] as const,
    ),
  );
  return { sandboxClass: driver.sandboxClass, assets: Object.fromEntries(fetched) };
}

export async function pullImages(
  images: ImageStore,
  workload: Workload,
  signal?: AbortSignal,
): Promise<Record<string, PulledImage>> {
  const entries = await Promise.all(
    workload.containers.map(async (c) => [c.name, await images.ensure(c.image, signal)] as const),
  );
  return Object.fromEntries(entries);
}
