import { createReadStream } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { basename, dirname, join, normalize } from "node:path";
import { PassThrough, type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { Decompress } from "fzstd";
import * as tar from "tar";
import { AteError, Code } from "../../errors/index.ts";
import { mediaTypes } from "./media-types.ts";

const whiteoutPrefix = ".wh.";
const opaqueMarker = ".wh..wh..opq";

function decompressor(mediaType: string): Transform {
  if (mediaType === mediaTypes.ociLayerGzip || mediaType === mediaTypes.dockerLayerGzip)
    return createGunzip();
  if (mediaType === mediaTypes.ociLayerZstd) return zstdStream();
  if (mediaType === mediaTypes.ociLayer) return new PassThrough();
  throw new AteError(
    Code.InvalidArgument,
    `layer media type ${mediaType} is not supported: use tar, tar+gzip or tar+zstd layers`,
  );
}

function zstdStream(): Transform {
  let push: (chunk: Uint8Array) => void = () => {};
  const decoder = new Decompress((chunk) => push(chunk));
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      push = (c) => this.push(Buffer.from(c));
      try {
        decoder.push(chunk);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done) {
      push = (c) => this.push(Buffer.from(c));
      try {
        decoder.push(new Uint8Array(0), true);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
}

function layerStream(path: string, mediaType: string): Readable {
  return createReadStream(path).pipe(decompressor(mediaType));
}

/** Keeps a layer path inside the rootfs: no absolute paths, no `..` escapes. */
function inside(rootfs: string, entryPath: string): string {
  const clean = normalize(`/${entryPath}`);
  return join(rootfs, clean);
}

/**
 * Applies one image layer onto a rootfs directory, in the order OCI defines: first the
 * layer's whiteouts remove what lower layers put there (`.wh.name` one entry, `.wh..wh..opq`
 * a whole directory's contents), then the layer's files are extracted.
 */
export async function applyLayer(
  layerPath: string,
  mediaType: string,
  rootfs: string,
): Promise<void> {
  const whiteouts: string[] = [];
  const opaque: string[] = [];
  await pipeline(
    layerStream(layerPath, mediaType),
    tar.t({
      onReadEntry: (entry) => {
        const name = basename(entry.path);
        if (name === opaqueMarker) opaque.push(dirname(entry.path));
        else if (name.startsWith(whiteoutPrefix))
          whiteouts.push(join(dirname(entry.path), name.slice(whiteoutPrefix.length)));
        entry.resume();
      },
    }),
  );
  for (const dir of opaque) {
    const target = inside(rootfs, dir);
    const children = await readdir(target).catch(() => [] as string[]);
    await Promise.all(children.map((c) => rm(join(target, c), { recursive: true, force: true })));
  }
  for (const path of whiteouts) await rm(inside(rootfs, path), { recursive: true, force: true });

  const problems: string[] = [];
  await pipeline(
    layerStream(layerPath, mediaType),
    tar.x({
      cwd: rootfs,
      preserveOwner: true,
      unlink: true,
      filter: (path) => !basename(path).startsWith(whiteoutPrefix),
      onwarn: (code, message) => problems.push(`${code}: ${message}`),
    }),
  );
  if (problems.length) {
    throw new AteError(
      Code.DataLoss,
      `layer ${basename(layerPath)} did not extract cleanly: ${problems.slice(0, 3).join("; ")}`,
    );
  }
}
