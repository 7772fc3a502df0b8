// Builds the counter actor's image (node + its libraries + counter.js) and pushes it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildNodeRootfs, packAndPush } from "../../src/node/index.ts";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures");

export async function pushCounterImage(registryHost: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "ate-counter-rootfs-"));
  try {
    buildNodeRootfs(dir, { dir: join(fixtures, "counter") });
    return await packAndPush({
      dir,
      reference: `${registryHost}/ate/counter:test`,
      entrypoint: ["/usr/bin/node", "/app/counter.js"],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
