import { constants } from "node:fs";
import { open, realpath } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { SandboxAsset } from "../api/v1alpha1/index.ts";
import type { BlobStore } from "../blob/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { metered } from "../snapshots/index.ts";
import { openUnder } from "./local-files.ts";
import { assetIsLocal, runtimeAssetUri, type SnapshotsTarget } from "./locations.ts";

export interface RuntimeAssetsOptions {
  /** ate up's state dir: its node caches every runtime it ran at `node/assets/sha256/<hex>`. */
  stateDir: string;
  target: SnapshotsTarget;
  open: (uri: string) => BlobStore;
  dryRun: boolean;
  say: (line: string) => void;
}

interface Source {
  size: number;
  where: string;
  read(): Promise<{ body: Readable; close(): Promise<void> }>;
}

/**
 * Runtime assets (runsc) that only the `ate up` machine has — a file:// path, or the route its
 * API served them at — copied by sha256 to `<snapshots>/_runtime/sha256/<hex>`, where every
 * node fetches them (s3://, verified by digest as any asset). Snapshots pin their runtime, so
 * a migrated actor restores on any node, whatever runsc the control plane serves.
 */
export class RuntimeAssets {
  private readonly placed = new Map<string, Promise<string | undefined>>();

  constructor(private readonly o: RuntimeAssetsOptions) {}

  /**
   * The asset as the cluster's nodes fetch it: copied to S3 when it is local to ate up,
   * else unchanged. `required` (a snapshot's runtime): an asset that cannot be found is an
   * error naming it; otherwise (a SandboxConfig's) it keeps its url, with a warning.
   */
  async place(asset: SandboxAsset, usedBy: string, required: boolean): Promise<SandboxAsset> {
    if (!assetIsLocal(asset)) return asset;
    let pending = this.placed.get(asset.sha256);
    if (!pending) {
      pending = this.copy(asset);
      this.placed.set(asset.sha256, pending);
    }
    const url = await pending;
    if (url) return { ...asset, url };
    const where = `${join(this.o.stateDir, "node", "assets", "sha256", asset.sha256)}${asset.url.startsWith("file:") ? ` or ${asset.url}` : ""}`;
    if (required)
      throw new AteError(
        Code.FailedPrecondition,
        `${usedBy} needs the runtime asset sha256 ${asset.sha256} (${asset.url}), which is neither at ${where}: put the file with that sha256 at the first path, then migrate again`,
      );
    this.o.say(
      `  warning: ${usedBy}: runtime asset sha256 ${asset.sha256.slice(0, 12)} is not at ${where}; it keeps its url ${asset.url}, which nodes must reach`,
    );
    return asset;
  }

  /** Copies the asset once (skipped when S3 has it); its S3 url, or undefined when not found. */
  private async copy(asset: SandboxAsset): Promise<string | undefined> {
    const source = await this.source(asset);
    if (!source) return undefined;
    const url = runtimeAssetUri(this.o.target, asset.sha256);
    const dir = url.slice(0, url.lastIndexOf("/"));
    const store = this.o.open(dir);
    const there = await store.stat(asset.sha256);
    if (there?.size === source.size) {
      this.o.say(`  runtime asset sha256 ${asset.sha256.slice(0, 12)}: already at ${url}`);
      return url;
    }
    if (this.o.dryRun) {
      this.o.say(
        `  would copy runtime asset sha256 ${asset.sha256.slice(0, 12)} (${source.size} bytes) from ${source.where} to ${url}`,
      );
      return url;
    }
    const { body, close } = await source.read();
    const meter = metered(body);
    try {
      await store.put(asset.sha256, meter);
    } finally {
      await close();
    }
    const got = meter.digest();
    if (got.sha256 !== asset.sha256) {
      await store.delete(asset.sha256).catch(() => {});
      throw new AteError(
        Code.DataLoss,
        `runtime asset ${source.where} has sha256 ${got.sha256}, not ${asset.sha256}: it changed since it was cached; nothing was copied`,
      );
    }
    this.o.say(
      `  copied runtime asset sha256 ${asset.sha256.slice(0, 12)} (${got.size} bytes) from ${source.where} to ${url}`,
    );
    return url;
  }

  /** ate up's node cache first (verified there when cached), then the file:// url itself. */
  private async source(asset: SandboxAsset): Promise<Source | undefined> {
    const cacheDir = join(this.o.stateDir, "node", "assets");
    const what = `runtime asset sha256 ${asset.sha256}`;
    try {
      const cached = await openUnder(cacheDir, `sha256/${asset.sha256}`, what);
      await cached.handle.close();
      return {
        size: cached.size,
        where: cached.path,
        read: async () => {
          const f = await openUnder(cacheDir, `sha256/${asset.sha256}`, what);
          return {
            body: f.handle.createReadStream({ autoClose: false }),
            close: () => f.handle.close(),
          };
        },
      };
    } catch (err) {
      if (!isAteError(err, Code.NotFound)) throw err;
    }
    if (!asset.url.startsWith("file:")) return undefined;
    // Pinned by its digest: whatever the path resolves to is checked against it.
    const path = await realpath(fileURLToPath(asset.url)).catch(() => undefined);
    if (!path) return undefined;
    const probe = await open(path, constants.O_RDONLY).catch(() => undefined);
    const st = await probe?.stat();
    await probe?.close();
    if (!st?.isFile()) return undefined;
    return {
      size: st.size,
      where: path,
      read: async () => {
        const h = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
        return { body: h.createReadStream({ autoClose: false }), close: () => h.close() };
      },
    };
  }
}
