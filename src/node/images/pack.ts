import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import * as tar from "tar";
import { AteError, Code } from "../../errors/index.ts";
import { nodeArch } from "../assets/index.ts";
import { type ImageManifest, mediaTypes } from "./media-types.ts";
import { parseReference } from "./reference.ts";
import { RegistryClient, registryError } from "./registry-client.ts";

export interface PackOptions {
  /** The directory that becomes the image's root filesystem. */
  dir: string;
  /** Where to push, `registry/repository[:tag]` (tag default `latest`). */
  reference: string;
  entrypoint?: string[];
  env?: string[];
  architecture?: string;
  client?: RegistryClient;
}

const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** A one-layer OCI image packed in memory, ready to push to any repository. */
export interface PackedImage {
  layer: Buffer;
  config: Buffer;
  manifest: Buffer;
}

/**
 * Packs a directory into a one-layer OCI image and pushes it; returns the pinned reference
 * (`registry/repository@sha256:…`). Layers are reproducible (fixed mtimes, no owners), so the
 * same directory gives the same digest.
 */
export async function packAndPush(options: PackOptions): Promise<string> {
  parseReference(options.reference, { requireDigest: false }); // refused before packing
  return pushImage(await packImage(options), options.reference, options.client);
}

/** Packs a directory into a one-layer OCI image (gzip is most of the time it takes). */
export async function packImage(
  options: Omit<PackOptions, "reference" | "client">,
): Promise<PackedImage> {
  const chunks: Buffer[] = [];
  const stream = tar.c(
    { gzip: { level: 6 }, cwd: options.dir, portable: true, mtime: new Date(0) },
    ["."],
  );
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const layer = Buffer.concat(chunks);
  const config = Buffer.from(
    JSON.stringify({
      architecture: options.architecture ?? nodeArch(),
      os: "linux",
      config: {
        ...(options.entrypoint ? { Entrypoint: options.entrypoint } : {}),
        Env: options.env ?? ["PATH=/usr/local/bin:/usr/bin:/bin"],
      },
      rootfs: { type: "layers", diff_ids: [sha256(gunzipSync(layer))] },
    }),
  );
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: mediaTypes.ociManifest,
    config: { mediaType: mediaTypes.ociConfig, digest: sha256(config), size: config.length },
    layers: [{ mediaType: mediaTypes.ociLayerGzip, digest: sha256(layer), size: layer.length }],
  };
  return { layer, config, manifest: Buffer.from(JSON.stringify(manifest)) };
}

/** Pushes a packed image to `registry/repository[:tag]`; returns the pinned reference. */
export async function pushImage(
  image: PackedImage,
  reference: string,
  client = new RegistryClient(),
): Promise<string> {
  const ref = parseReference(reference, { requireDigest: false });
  for (const blob of [image.layer, image.config])
    await pushBlob(client, ref.registry, ref.repository, blob);
  const res = await client.request(
    ref.registry,
    ref.repository,
    `manifests/${ref.tag ?? "latest"}`,
    {
      method: "PUT",
      headers: { "content-type": mediaTypes.ociManifest },
      body: image.manifest,
    },
  );
  if (!res.ok) throw await registryError(res, `pushing manifest of ${reference}`);
  return `${ref.registry}/${ref.repository}@${sha256(image.manifest)}`;
}

async function pushBlob(
  client: RegistryClient,
  registry: string,
  repository: string,
  blob: Buffer,
): Promise<void> {
  const digest = sha256(blob);
  const head = await client.request(registry, repository, `blobs/${digest}`, { method: "HEAD" });
  if (head.ok) return;
  const start = await client.request(registry, repository, "blobs/uploads/", { method: "POST" });
  if (start.status !== 202)
    throw await registryError(start, `starting upload of ${digest} to ${registry}/${repository}`);
  await start.body?.cancel();
  const location = start.headers.get("location");
  if (!location)
    throw new AteError(Code.Unavailable, `registry ${registry} gave no upload location`);
  const url = new URL(location, client.baseUrl(registry));
  url.searchParams.set("digest", digest);
  const put = await fetch(url, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: blob,
  });
  if (put.status !== 201)
    throw await registryError(put, `uploading ${digest} to ${registry}/${repository}`);
}
