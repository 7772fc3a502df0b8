/** Writes the CRDs and admission policies generated from the schemas (`npm run generate`). */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generatedManifests } from "./schema/index.ts";
import { resourceTypes } from "./v1alpha1/index.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
for (const [path, content] of generatedManifests(resourceTypes)) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
  console.log(`wrote ${path}`);
}
