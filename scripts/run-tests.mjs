#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with Node's test runner (Node 20 has no --test
// globs), TypeScript loaded through tsx. Arguments are file filters (a path containing one runs).
// The cluster test (test/cluster/) runs on its own (`npm run test:cluster`, a step of `npm test`):
// without filters it is left out, so `npm test` never runs it twice; a filter may name it.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

function testFiles(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out = out.concat(testFiles(path));
    else if (e.name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const cluster = "test/cluster/";
const files = ["src", "test"]
  .flatMap(testFiles)
  .filter((f) =>
    filters.length === 0 ? !f.startsWith(cluster) : filters.some((x) => f.includes(x)),
  )
  .sort();
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-force-exit", "--test-reporter=spec", ...files],
  {
    stdio: "inherit",
  },
);
process.exit(result.status ?? 1);
