import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AteError, Code } from "../../errors/index.ts";
import { privateDir, privateFileMode } from "../../private-files/index.ts";
import { nodeArch } from "../assets/index.ts";
import {
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  manifestAccept,
  mediaTypes,
} from "./media-types.ts";
import { formatReference, parseReference } from "./reference.ts";
import { RegistryClient, registryError } from "./registry-client.ts";
import { applyLayer } from "./unpack.ts";

export interface PullProgress {
  image: string;
  layer: string;
  bytes: number;
  total: number;
}

export interface ImageStoreOptions {
  /** Cache directory shared by every worker on the node. */
  dir: string;
  client?: RegistryClient;
  /** Go architecture name of the platform to pull; default this node's. */
  architecture?: string;
  onProgress?: (p: PullProgress) => void;
}

export interface PulledImage {
  /** The reference as pinned, e.g. `localhost:5000/app@sha256:…`. */
  reference: string;
  /** The digest the reference pins (a manifest or an index). */
  digest: string;
  /** The platform manifest's digest. */
  manifestDigest: string;
  /** The unpacked root filesystem, read-only for sandboxes. */
  rootfs: string;
  config: ImageConfig;
}

const hex = (digest: string) => digest.slice("sha256:".length);

/**
 * Images by digest, content-addressed on the node: blobs under `blobs/sha256/`, each image
 * unpacked once under `images/<digest>/rootfs` and committed by writing its metadata last.
 * Every byte from the registry is verified against the digest that named it.
 */
export class ImageStore {
  private readonly client: RegistryClient;
  private readonly inflight = new Map<string, Promise<PulledImage>>();

  constructor(private readonly options: ImageStoreOptions) {
    this.client = options.client ?? new RegistryClient();
  }

  async ensure(reference: string, signal?: AbortSignal): Promise<PulledImage> {
    const ref = parseReference(reference);
    const cached = await this.cached(ref.digest);
    if (cached) return cached;
    let pending = this.inflight.get(ref.digest);
    if (!pending) {
      pending = this.pull(reference, signal).finally(() => this.inflight.delete(ref.digest));
      this.inflight.set(ref.digest, pending);
    }
    return pending;
  }

  /** The image if it is already unpacked here. */
  async cached(digest: string): Promise<PulledImage | undefined> {
    const meta = await readFile(this.metaPath(digest), "utf8").catch(() => undefined);
    return meta ? (JSON.parse(meta) as PulledImage) : undefined;
  }

  /** The references of every image unpacked here (for the node's registration). */
  async references(): Promise<string[]> {
    const dir = join(this.options.dir, "images");
    const names = await readdir(dir).catch(() => []);
    const refs: string[] = [];
    for (const n of names.filter((n) => /^[a-f0-9]{64}\.json$/.test(n))) {
      try {
        refs.push((JSON.parse(await readFile(join(dir, n), "utf8")) as PulledImage).reference);
      } catch {
        // Removed meanwhile, or unreadable: not an image this node has.
      }
    }
    return refs.sort();
  }

  private metaPath(digest: string): string {
    return join(this.options.dir, "images", `${hex(digest)}.json`);
  }

  private async pull(reference: string, signal?: AbortSignal): Promise<PulledImage> {
    const ref = parseReference(reference);
    const shown = formatReference(ref);
    let manifest = await this.fetchJson<ImageManifest | ImageIndex>(
      ref.registry,
      ref.repository,
      `manifests/${ref.digest}`,
      ref.digest,
      shown,
      signal,
    );
    let manifestDigest = ref.digest;
    if ("manifests" in manifest) {
      const arch = this.options.architecture ?? nodeArch();
      const chosen = manifest.manifests.find(
        (m) => m.platform?.os === "linux" && m.platform.architecture === arch,
      );
      if (!chosen) {
        const have = manifest.manifests
          .map((m) => `${m.platform?.os}/${m.platform?.architecture}`)
          .join(", ");
        throw new AteError(
          Code.FailedPrecondition,
          `image ${shown} has no linux/${arch} manifest (it has: ${have})`,
        );
      }
      manifestDigest = chosen.digest;
      manifest = await this.fetchJson<ImageManifest>(
        ref.registry,
        ref.repository,
        `manifests/${chosen.digest}`,
        chosen.digest,
        shown,
        signal,
      );
    }
    if (!("layers" in manifest) || !manifest.config)
      throw new AteError(
        Code.InvalidArgument,
        `image ${shown}: the manifest has no config or layers`,
      );
    const image = manifest;
    const config = JSON.parse(
      (
        await readFile(await this.blob(ref.registry, ref.repository, image.config, shown, signal))
      ).toString(),
    ) as ImageConfig;
    const layers = [];
    for (const layer of image.layers)
      layers.push(await this.blob(ref.registry, ref.repository, layer, shown, signal));

    const imagesDir = join(this.options.dir, "images");
    const dir = join(imagesDir, hex(ref.digest));
    const tmp = `${dir}.tmp-${randomBytes(6).toString("hex")}`;
    try {
      // Root's directories around the rootfs; the rootfs itself has the modes the image gives.
      await privateDir(tmp);
      await mkdir(join(tmp, "rootfs"), { mode: 0o755 });
      for (const [i, layer] of image.layers.entries())
        await applyLayer(layers[i] as string, layer.mediaType, join(tmp, "rootfs"));
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    const pulled: PulledImage = {
      reference,
      digest: ref.digest,
      manifestDigest,
      rootfs: join(dir, "rootfs"),
      config,
    };
    await writeFile(`${this.metaPath(ref.digest)}.tmp`, JSON.stringify(pulled), {
      mode: privateFileMode,
    });
    await rename(`${this.metaPath(ref.digest)}.tmp`, this.metaPath(ref.digest));
    return pulled;
  }

  private async fetchJson<T>(
    registry: string,
    repository: string,
    path: string,
    digest: string,
    shown: string,
    signal?: AbortSignal,
  ): Promise<T> {
    const res = await this.client.request(registry, repository, path, {
      headers: { accept: manifestAccept },
      ...(signal ? { signal } : {}),
    });
    if (!res.ok) throw await registryError(res, `image ${shown}: manifest ${digest}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const actual = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    if (actual !== digest) {
      throw new AteError(
        Code.DataLoss,
        `image ${shown}: the registry returned a manifest with digest ${actual} for ${digest}; refusing it`,
      );
    }
    return JSON.parse(bytes.toString()) as T;
  }

  /** A verified blob in the cache, downloaded when missing. */
  private async blob(
    registry: string,
    repository: string,
    d: Descriptor,
    shown: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const dir = join(this.options.dir, "blobs", "sha256");
    const path = join(dir, hex(d.digest));
    if ((await stat(path).catch(() => undefined))?.isFile()) return path;
    await privateDir(dir);
    const res = await this.client.request(
      registry,
      repository,
      `blobs/${d.digest}`,
      signal ? { signal } : {},
    );
    if (!res.ok || !res.body) throw await registryError(res, `image ${shown}: blob ${d.digest}`);
    const hash = createHash("sha256");
    let bytes = 0;
    const progress = this.options.onProgress;
    const meter = new Transform({
      transform(chunk: Buffer, _e, done) {
        hash.update(chunk);
        bytes += chunk.length;
        progress?.({ image: shown, layer: d.digest, bytes, total: d.size });
        done(null, chunk);
      },
    });
    const tmp = `${path}.tmp-${randomBytes(6).toString("hex")}`;
    try {
      await pipeline(
        Readable.fromWeb(res.body as import("node:stream/web").ReadableStream),
        meter,
        createWriteStream(tmp, { flags: "wx", mode: privateFileMode }),
      );
      const actual = `sha256:${hash.digest("hex")}`;
      if (actual !== d.digest)
        throw new AteError(
          Code.DataLoss,
          `image ${shown}: blob ${d.digest} arrived with digest ${actual}; refusing it`,
        );
      await rename(tmp, path);
      return path;
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}

export { mediaTypes };
