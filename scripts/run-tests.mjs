#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with Node's test runner (Node 20 has no --test
// globs), TypeScript loaded through tsx. Arguments are file filters (a path containing one runs).
// The cluster test (test/cluster/) runs on its own (`npm run test:cluster`, a step of `npm test`):
// without filters it is left out, so `npm test` never runs it twice; a filter may name it.
// No --test-force-exit: every file must end on its own once its tests are done (components
// stop what they run and tests close what they open), so a leak shows as a file that hangs.
// Files run one at a time (test/gvisor files must never overlap); the src/ unit files, in a
// second, niced runner beside them, fill the time those spend waiting on sandboxes.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
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
// Shared by this run's test files (test/support/node-image.ts packs each test image once);
// one a killed run left (its pid gone) is removed here.
for (const name of readdirSync(tmpdir())) {
  const pid = Number(name.match(/^ate-test-cache-(\d+)-/)?.[1]);
  if (!pid || pid === process.pid) continue;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (err.code === "ESRCH") rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}
const cache = mkdtempSync(join(tmpdir(), `ate-test-cache-${process.pid}-`));
// XDG_CACHE_HOME: the CLI's own cache (src/cli/atespace-cache.ts) goes with this run's.
const env = { ...process.env, ATE_TEST_CACHE: cache, XDG_CACHE_HOME: join(cache, "xdg") };
const nodeTest = (list, stdio, nice = false) => {
  const args = ["--import", "tsx", "--test", "--test-reporter=spec", ...list];
  return nice
    ? spawn("nice", ["-n", "10", process.execPath, ...args], { stdio, env })
    : spawn(process.execPath, args, { stdio, env });
};
const exited = (child) =>
  new Promise((resolve) => child.once("close", (code) => resolve(code ?? 1)));
// The files under src/ are unit tests (doubles, loopback servers; no sandboxes, namespaces or
// firewall rules), safe beside any other file; their report follows the others'.
const units = files.filter((f) => f.startsWith("src/"));
const rest = files.filter((f) => !f.startsWith("src/"));
const children = [];
const unitsReport = [];
let unitsDone = Promise.resolve(0);
if (units.length && rest.length) {
  const child = nodeTest(units, ["ignore", "pipe", "pipe"], true);
  child.stdout.on("data", (d) => unitsReport.push(d));
  child.stderr.on("data", (d) => unitsReport.push(d));
  children.push(child);
  unitsDone = exited(child);
}
const main = nodeTest(units.length && rest.length ? rest : files, ["ignore", "pipe", "inherit"]);
children.push(main);
// Shown as it comes, and kept: its failures are repeated at the very end, where a CI log's
// tail (which shows the unit files' report) would otherwise leave them out.
const mainReport = [];
main.stdout.on("data", (d) => {
  process.stdout.write(d);
  mainReport.push(d);
});
for (const signal of ["SIGINT", "SIGTERM"])
  process.on(signal, () => {
    for (const c of children) c.kill(signal);
  });
const codes = [await exited(main), await unitsDone];
if (unitsReport.length) {
  process.stdout.write("\n# src/ unit files (run alongside the files above)\n");
  process.stdout.write(Buffer.concat(unitsReport));
}
const failures = Buffer.concat(mainReport).toString("utf8").split("\n✖ failing tests:")[1];
if (unitsReport.length && failures && codes[0] !== 0)
  process.stdout.write(`\n# failing tests of the files above, again\n✖ failing tests:${failures}`);
rmSync(cache, { recursive: true, force: true });
process.exit(codes.find((c) => c !== 0) ?? 0);
