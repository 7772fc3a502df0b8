// Runs every bench/*.bench.ts one after another (or those whose names contain an argument:
// `npm run bench -- transfer memory`), streams their output, and ends with every `bench: `
// line again under one header, so that runs can be compared line by line. A bench that fails
// does not stop the others; the run then exits non-zero and names it (its figures are missing).
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wanted = process.argv.slice(2);
const files = readdirSync(join(root, "bench"))
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => !wanted.length || wanted.some((w) => f.includes(w)))
  .sort();
if (!files.length) {
  console.error(`no bench file matches ${wanted.join(" ")}`);
  process.exit(2);
}

/** Runs one bench file; resolves with its summary lines and exit code. */
function run(file) {
  return new Promise((resolve) => {
    const lines = [];
    const child = spawn(process.execPath, ["--import", "tsx", join("bench", file)], {
      cwd: root,
      env: process.env, // ROUNDS, ATE_LOG, … pass through
      stdio: ["ignore", "pipe", "inherit"],
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      process.stdout.write(`${line}\n`);
      if (line.startsWith("bench: ")) lines.push(line);
    });
    child.once("error", (err) => {
      console.error(`${file}: ${err.message}`);
      resolve({ lines, code: 1 });
    });
    child.once("close", (code, signal) => resolve({ lines, code: code ?? (signal ? 1 : 0) }));
  });
}

const summary = [];
const failed = [];
for (const file of files) {
  console.log(`\n=== ${file}`);
  const started = performance.now();
  const { lines, code } = await run(file);
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  if (code === 0) {
    summary.push(...lines);
    console.log(`=== ${file}: done in ${seconds} s`);
  } else {
    failed.push(file);
    console.log(`=== ${file}: FAILED (exit ${code}) after ${seconds} s; its figures are left out`);
  }
}

console.log(`\n=== summary (${files.length - failed.length} of ${files.length} benches)`);
for (const line of summary) console.log(line);
if (failed.length) {
  console.log(`failed: ${failed.join(", ")}`);
  process.exitCode = 1;
}
