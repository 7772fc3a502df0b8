import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import type { SandboxAsset } from "../../api/v1alpha1/index.ts";
import { type OpenedUrl, openUrl } from "../../blob/index.ts";
import { AteError, Code } from "../../errors/index.ts";
import { privateDir } from "../../private-files/index.ts";
import { type AssetAccessOptions, assetAccess } from "./asset-policy.ts";
import { DownloadWatchdog } from "./download-watchdog.ts";

export interface AssetCacheOptions extends AssetAccessOptions {
  /** The cache directory; assets live at `<dir>/sha256/<hex>`. */
  dir: string;
  /** Largest asset accepted. Default 512 MiB. */
  maxBytes?: number;
  /** A download with no data this long is stopped. Default 30 s. */
  idleTimeoutMs?: number;
  /** A download taking longer in all is stopped. Default 10 min. */
  totalTimeoutMs?: number;
  /** Hears of each lookup: a hit (cached) or a miss (downloaded, or joined a download). */
  onLookup?: (hit: boolean) => void;
}

const defaultMaxBytes = 512 * 1024 * 1024;
/** Cached assets are runtime binaries run by root: executable, by root only. */
const assetMode = 0o700;

/**
 * Sandbox runtime binaries by sha256. A download streams to a temp file while hashing, is
 * verified, made executable and renamed into place, so the cache only ever holds verified
 * files named by their content. A hit costs one stat; concurrent fetches of one asset share
 * one download. What may be fetched at all is the node admin's choice (see AssetAccessOptions).
 */
export class AssetCache {
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly maxBytes: number;
  private readonly access: ReturnType<typeof assetAccess>;

  constructor(private readonly options: AssetCacheOptions) {
    this.maxBytes = options.maxBytes ?? defaultMaxBytes;
    this.access = assetAccess(options);
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

  /** The digests of every asset in the cache (for the node's registration). */
  async cached(): Promise<string[]> {
    const names = await readdir(join(this.options.dir, "sha256")).catch(() => []);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).sort();
  }

  /** The local path of the verified asset, downloading it on a miss. `name` names it in errors. */
  async fetch(
    asset: SandboxAsset,
    o: { name?: string; signal?: AbortSignal } = {},
  ): Promise<string> {
    const { signal, ...rest } = o;
    return this.once(asset.sha256, (path) => this.download(asset, path, rest), signal);
  }

  /**
   * Puts a local file the caller vouches for (the runsc the control plane in this process
   * declares) into the cache under its sha256, verified as any download is, so this node
   * never fetches it over the network. Returns the cached path.
   */
  async seed(file: string, sha256: string, o: { signal?: AbortSignal } = {}): Promise<string> {
    const asset = { url: pathToFileURL(file).href, sha256 };
    const open = async () => ({ body: createReadStream(file) });
    return this.once(sha256, (path) => this.download(asset, path, { open }), o.signal);
  }

  /**
   * The cached path, or one shared download of it on a miss. The download belongs to no one
   * caller (its watchdog bounds it): a caller that gives up stops waiting, never the download
   * the others share.
   */
  private async once(
    sha256: string,
    download: (path: string) => Promise<string>,
    signal?: AbortSignal,
  ): Promise<string> {
    const path = this.path(sha256);
    const hit = await this.has(sha256);
    this.options.onLookup?.(hit);
    if (hit) return path;
    if (signal?.aborted) throw canceled(signal);
    let pending = this.inflight.get(sha256);
    if (!pending) {
      pending = download(path).finally(() => this.inflight.delete(sha256));
      pending.catch(() => {}); // its callers see the failure; none may be left to
      this.inflight.set(sha256, pending);
    }
    return signal ? untilAborted(pending, signal) : pending;
  }

  private async download(
    asset: SandboxAsset,
    path: string,
    o: { name?: string; signal?: AbortSignal; open?: () => Promise<OpenedUrl> },
  ): Promise<string> {
    const what = `asset ${o.name ? `${o.name} ` : ""}(${asset.url})`;
    const tmpDir = join(this.options.dir, "tmp");
    await privateDir(this.options.dir);
    await privateDir(tmpDir);
    await privateDir(join(this.options.dir, "sha256"));
    const tmp = join(tmpDir, `${asset.sha256}.${randomBytes(6).toString("hex")}`);
    const hash = createHash("sha256");
    let size = 0;
    const max = this.maxBytes;
    const watchdog = new DownloadWatchdog({
      what,
      idleMs: this.options.idleTimeoutMs ?? 30_000,
      totalMs: this.options.totalTimeoutMs ?? 600_000,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        watchdog.touch();
        size += chunk.length;
        if (size > max) {
          done(
            new AteError(
              Code.ResourceExhausted,
              `${what} is larger than the ${max}-byte limit (stopped at ${size} bytes; expected sha256 ${asset.sha256}): raise the node agent's asset size limit or fix the url`,
            ),
          );
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      const { body, size: announced } = await (o.open?.() ??
        openUrl(asset.url, {
          what: `asset${o.name ? ` ${o.name}` : ""}`,
          signal: watchdog.signal,
          ...this.access,
        }));
      if (announced !== undefined && announced > max) {
        body.destroy();
        throw new AteError(
          Code.ResourceExhausted,
          `${what} is ${announced} bytes, over the ${max}-byte limit (expected sha256 ${asset.sha256}): raise the node agent's asset size limit or fix the url`,
        );
      }
      await pipeline(body, meter, createWriteStream(tmp, { flags: "wx", mode: 0o600 }), {
        signal: watchdog.signal,
      });
      const actual = hash.digest("hex");
      if (actual !== asset.sha256) throw mismatch(what, asset, actual);
      await chmod(tmp, assetMode);
      await rename(tmp, path);
      return path;
    } catch (err) {
      await rm(tmp, { force: true });
      const e = watchdog.reason ?? err;
      if (e instanceof AteError) throw e;
      throw new AteError(
        Code.Unavailable,
        `${what} could not be fetched: ${(e as Error).message}`,
        [],
        { cause: e },
      );
    } finally {
      watchdog.stop();
    }
  }
}

/**
 * A downloaded asset is not the one named. A remote one's actual digest helps fix the
 * SandboxConfig; a local file's is not told: it would let whoever writes SandboxConfigs (and
 * whoever reads the statuses they end up in) learn the digest of files on the node.
 */
function mismatch(what: string, asset: SandboxAsset, actual: string): AteError {
  const local = asset.url.startsWith("file:");
  return new AteError(
    Code.FailedPrecondition,
    `${what} ${local ? `does not have sha256 ${asset.sha256}` : `has sha256 ${actual}, expected ${asset.sha256}`}: the file changed or the SandboxConfig names the wrong hash; nothing was cached`,
  );
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

/** p, or the signal's reason once it aborts first (p itself goes on). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(canceled(signal));
    signal.addEventListener("abort", abort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

function canceled(signal: AbortSignal): AteError {
  return signal.reason instanceof AteError
    ? signal.reason
    : new AteError(Code.Canceled, "waiting for an asset download: canceled");
}
