// A test actor's image: this machine's node, its libraries and a fixture app under /app,
// pushed to a test's registry. Packing (gzip of a 100 MB node binary) takes ≈6 s, and almost
// every gvisor test file needs one of four such images: when the test runner gives a cache
// directory (ATE_TEST_CACHE, made and removed by scripts/run-tests.mjs), each image is packed
// once per run and pushed from there; without one, it is packed afresh.
import { createHash } from "node:crypto";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildNodeRootfs, type PackedImage, packImage, pushImage } from "../../src/node/index.ts";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures");
const parts = ["layer", "config", "manifest"] as const;

/**
 * Pushes the image of test/fixtures/<fixture> (its entry point /app/<fixture>.js) as
 * `<registryHost>/ate/<fixture>:test`; returns the pinned reference.
 */
export async function pushNodeImage(registryHost: string, fixture: string): Promise<string> {
  const image = await cachedPack(fixture);
  return pushImage(image, `${registryHost}/ate/${fixture}:test`);
}

async function cachedPack(fixture: string): Promise<PackedImage> {
  const cache = process.env.ATE_TEST_CACHE;
  if (!cache) return pack(fixture);
  const dir = join(cache, "images", key(fixture));
  try {
    const [layer, config, manifest] = parts.map((p) => readFileSync(join(dir, p)));
    return { layer, config, manifest } as PackedImage;
  } catch {
    // Not packed yet in this run.
  }
  const image = await pack(fixture);
  // Written aside and renamed: a reader sees a whole image or none.
  mkdirSync(dirname(dir), { recursive: true });
  const partial = mkdtempSync(`${dir}.partial-`);
  for (const p of parts) writeFileSync(join(partial, p), image[p]);
  try {
    renameSync(partial, dir);
  } catch {
    rmSync(partial, { recursive: true, force: true }); // another file packed it meanwhile
  }
  return image;
}

async function pack(fixture: string): Promise<PackedImage> {
  const rootfs = mkdtempSync(join(tmpdir(), `ate-${fixture}-rootfs-`));
  try {
    buildNodeRootfs(rootfs, { dir: join(fixtures, fixture) });
    return await packImage({ dir: rootfs, entrypoint: ["/usr/bin/node", `/app/${fixture}.js`] });
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
}

/** What the image is made of: the node binary and the fixture's files. */
function key(fixture: string): string {
  const hash = createHash("sha256");
  const node = realpathSync(process.execPath);
  const { size, mtimeMs } = statSync(node);
  hash.update(`${node}\0${size}\0${mtimeMs}\0`);
  const dir = join(fixtures, fixture);
  for (const name of readdirSync(dir, { recursive: true, encoding: "utf8" }).sort()) {
    const path = join(dir, name);
    if (statSync(path).isFile()) hash.update(`${name}\0`).update(readFileSync(path));
  }
  return `${fixture}-${hash.digest("hex").slice(0, 16)}`;
}
