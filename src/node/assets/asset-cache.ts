import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { SandboxAsset } from "../../api/v1alpha1/index.ts";
import { openUrl } from "../../blob/index.ts";
import { AteError, Code } from "../../errors/index.ts";

export interface AssetCacheOptions {
  /** The cache directory; assets live at `<dir>/sha256/<hex>`. */
  dir: string;
  /** Largest asset accepted. Default 512 MiB. */
  maxBytes?: number;
}

const defaultMaxBytes = 512 * 1024 * 1024;

/**
 * Sandbox runtime binaries by sha256. A download streams to a temp file while hashing, is
 * verified, made executable and renamed into place, so the cache only ever holds verified
 * files named by their content. A hit costs one stat; concurrent fetches of one asset share
 * one download.
 */
export class AssetCache {
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly maxBytes: number;

  constructor(private readonly options: AssetCacheOptions) {
    this.maxBytes = options.maxBytes ?? defaultMaxBytes;
  }

  /** Where an asset with this hash lives once cached. */
  path(sha256: string): string {
    if (!/^[a-f0-9]{64}$/.test(sha256))
      throw new AteError(
        Code.InvalidArgument,
        `sha256 "${sha256}" is not 64 lower-case hex digits`,
      );
    return join(this.options.dir, "sha256", sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return (await stat(this.path(sha256)).catch(() => undefined))?.isFile() ?? false;
  }

  /** The local path of the verified asset, downloading it on a miss. */
  async fetch(asset: SandboxAsset, signal?: AbortSignal): Promise<string> {
    const path = this.path(asset.sha256);
    if (await this.has(asset.sha256)) return path;
    let pending = this.inflight.get(asset.sha256);
    if (!pending) {
      pending = this.download(asset, path, signal).finally(() =>
        this.inflight.delete(asset.sha256),
      );
      this.inflight.set(asset.sha256, pending);
    }
    return pending;
  }

  private async download(asset: SandboxAsset, path: string, signal?: AbortSignal): Promise<string> {
    const tmpDir = join(this.options.dir, "tmp");
    await mkdir(tmpDir, { recursive: true });
    await mkdir(join(this.options.dir, "sha256"), { recursive: true });
    const tmp = join(tmpDir, `${asset.sha256}.${randomBytes(6).toString("hex")}`);
    const hash = createHash("sha256");
    let size = 0;
    const max = this.maxBytes;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > max) {
          done(
            new AteError(
              Code.ResourceExhausted,
              `asset ${asset.url} is larger than the ${max}-byte limit (stopped at ${size} bytes; expected sha256 ${asset.sha256}): raise the node agent's asset size limit or fix the url`,
            ),
          );
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      const { body, size: announced } = await openUrl(asset.url, signal);
      if (announced !== undefined && announced > max) {
        body.destroy();
        throw new AteError(
          Code.ResourceExhausted,
          `asset ${asset.url} is ${announced} bytes, over the ${max}-byte limit (expected sha256 ${asset.sha256}): raise the node agent's asset size limit or fix the url`,
        );
      }
      await pipeline(
        body,
        meter,
        createWriteStream(tmp, { flags: "wx", mode: 0o600 }),
        signal ? { signal } : {},
      );
      const actual = hash.digest("hex");
      if (actual !== asset.sha256) {
        throw new AteError(
          Code.FailedPrecondition,
          `asset ${asset.url} has sha256 ${actual}, expected ${asset.sha256}: the file changed or the SandboxConfig names the wrong hash; nothing was cached`,
        );
      }
      await chmod(tmp, 0o755);
      await rename(tmp, path);
      return path;
    } catch (err) {
      await rm(tmp, { force: true });
      if (err instanceof AteError) throw err;
      throw new AteError(
        Code.Unavailable,
        `asset ${asset.url} could not be fetched: ${(err as Error).message}`,
        [],
        { cause: err },
      );
    }
  }
}

/** Go's name for this machine's architecture, as SandboxConfig assets are keyed. */
export function nodeArch(arch: string = process.arch): string {
  const names: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
    s390x: "s390x",
    riscv64: "riscv64",
  };
  return names[arch] ?? arch;
}

/** The assets for one architecture, or a clear error when the config has none for it. */
export function assetsForArch(
  assets: Record<string, Record<string, SandboxAsset>>,
  arch: string,
  what: string,
): Record<string, SandboxAsset> {
  const forArch = assets[arch];
  if (!forArch) {
    const have = Object.keys(assets).join(", ") || "none";
    throw new AteError(
      Code.FailedPrecondition,
      `${what} has no assets for architecture ${arch} (it has: ${have}): add spec.assets.${arch}`,
    );
  }
  return forArch;
}
