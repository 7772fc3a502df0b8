import { realpathSync, statSync } from "node:fs";
import { arch } from "node:os";
import { dirname, resolve } from "node:path";
import { type SandboxConfig, SandboxConfigType } from "../api/v1alpha1/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import { type ServedAsset, type ServedAssets, servedAssetUrl } from "../server/index.ts";

/** Marks the SandboxConfigs `ate up` made from the machine's runsc (so it may retire them). */
export const createdByLabel = "ate.dev/created-by";
const createdBy = "ate-up";

/** Node's architecture as SandboxConfig assets name it. */
export function assetArch(nodeArch: string = arch()): string {
  const map: Record<string, string> = { x64: "amd64", arm64: "arm64" };
  const a = map[nodeArch];
  if (!a)
    throw new AteError(
      Code.FailedPrecondition,
      `architecture ${nodeArch} has no gVisor build: ate runs on amd64 and arm64`,
    );
  return a;
}

export interface DefaultRuntimeResult {
  name: string;
  /**
   * created: none existed; upgraded: the machine's runsc, or the url it is served at (an
   * older version's file:// url, another API address), changed; kept: nothing to do.
   */
  outcome: "created" | "upgraded" | "kept";
  /** The runsc as served (also when the user's own runtimes are kept): path and sha256. */
  asset: ServedAsset;
}

/** `http://host:port` for a listen address (IPv6 in brackets), as the API server names itself. */
export function httpUrl(addr: { host: string; port: number }): string {
  return `http://${addr.host.includes(":") ? `[${addr.host}]` : addr.host}:${addr.port}`;
}

export interface DefaultRuntimeServing {
  /** The API's base url (`http://host:port`) nodes reach it at: the runsc is served there. */
  apiUrl: string;
  /** What the API server serves; the runsc is declared in it. */
  served: ServedAssets;
}

/**
 * Gives the gvisor class a default SandboxConfig made from the runsc on this machine, served
 * by this control plane (`<api>/assets/sha256/<hex>`) so nodes on other hosts fetch it by
 * digest; stored through the same admission as any apply. When the machine's runsc changed
 * since, a new config for it becomes the default and the old one stays: snapshots pin the
 * runtime they were taken with, so they keep restoring with it. ate's own config for this
 * runsc whose url is not where it is served now (an earlier version's file:// url, or another
 * API address) gets the url it is served at. Once the user has gvisor SandboxConfigs of their
 * own, nothing is declared.
 */
export async function ensureDefaultRuntime(
  resources: ResourceStore,
  runscPath: string,
  logger: Logger,
  serving: DefaultRuntimeServing,
): Promise<DefaultRuntimeResult> {
  // Control planes starting together on one store race to declare it: the loser looks again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await declareDefaultRuntime(resources, runscPath, logger, serving);
    } catch (err) {
      const raced = isAteError(err, Code.AlreadyExists) || isAteError(err, Code.Aborted);
      if (!raced || attempt >= 3) throw err;
    }
  }
}

async function declareDefaultRuntime(
  resources: ResourceStore,
  runscPath: string,
  logger: Logger,
  serving: DefaultRuntimeServing,
): Promise<DefaultRuntimeResult> {
  const configs = (await resources.list(SandboxConfigType)).items;
  const gvisor = configs.filter((c) => c.spec.sandboxClass === "gvisor");
  const asset = await serving.served.declare(runscPath);
  const digest = asset.sha256;
  const url = servedAssetUrl(serving.apiUrl, digest);
  const archName = assetArch();
  const ours = gvisor.filter((c) => c.metadata.labels?.[createdByLabel] === createdBy);
  // Once the user declares a gvisor runtime of their own, runtimes are theirs to manage.
  const theirs = gvisor.filter((c) => !ours.includes(c));
  if (theirs.length)
    return {
      name: theirs.find((c) => c.spec.default)?.metadata.name ?? "",
      outcome: "kept",
      asset,
    };
  const current = ours.find((c) => c.spec.assets?.[archName]?.runsc?.sha256 === digest);
  if (current?.spec.default && current.spec.assets?.[archName]?.runsc?.url === url)
    return { name: current.metadata.name, outcome: "kept", asset };
  const defaults = ours.filter((c) => c.spec.default && c !== current);
  for (const old of defaults) {
    await resources.update(SandboxConfigType, { ...old, spec: { ...old.spec, default: false } });
    logger.info("sandbox runtime retired as default", { sandboxConfig: old.metadata.name });
  }
  const name = current?.metadata.name ?? `gvisor-${digest.slice(0, 12)}`;
  const config: SandboxConfig = {
    apiVersion: "ate.dev/v1alpha1",
    kind: "SandboxConfig",
    metadata: { name, labels: { [createdByLabel]: createdBy } },
    spec: {
      sandboxClass: "gvisor",
      default: true,
      assets: { [archName]: { runsc: { url, sha256: digest } } },
    },
  };
  if (current) await resources.update(SandboxConfigType, { ...current, spec: config.spec });
  else await resources.create(SandboxConfigType, config);
  logger.info("default sandbox runtime", {
    sandboxConfig: name,
    runsc: asset.path,
    sha256: digest,
    url,
  });
  return { name, outcome: ours.length ? "upgraded" : "created", asset };
}

/**
 * The directories the node agent reads file:// assets from: those named with `--asset-dir`
 * (each must be a directory), and always the directory of the runsc `ate up` uses: snapshots
 * taken by earlier versions pin the file:// url their default runtime had there.
 */
export function assetDirsFor(named: readonly string[], runsc: string | undefined): string[] {
  const dirs = named.map((d) => {
    const dir = resolve(d);
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory())
      throw new AteError(
        Code.InvalidArgument,
        `--asset-dir ${JSON.stringify(d)}: not a directory; name a directory file:// assets may be read from`,
      );
    return dir;
  });
  if (runsc) {
    try {
      dirs.push(dirname(realpathSync(runsc)));
    } catch {
      // No runsc: prerequisites say so; no directory to allow for it.
    }
  }
  return [...new Set(dirs)];
}
