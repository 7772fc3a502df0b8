// The CLI built at install time (scripts/build.mjs into dist/), run as users run it: bin/ate
// in a child process, from a copy of the repository so the real dist/ is never touched.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const copy = mkdtempSync(join(tmpdir(), "ate-cli-build-"));
const ate = (bin = "ate", ...args: string[]) =>
  spawnSync(join(copy, "bin", bin), args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  version: string;
};

/** Marks the built output, so a run shows whether it came from dist/ or from the sources. */
function markBuild(): void {
  for (const name of readdirSync(join(copy, "dist")).filter((n) => n.endsWith(".js"))) {
    const path = join(copy, "dist", name);
    const text = readFileSync(path, "utf8");
    if (text.includes("Client Version: "))
      writeFileSync(path, text.replaceAll("Client Version: ", "Client Version (dist): "));
  }
}

describe("the built CLI (npm install builds dist/)", () => {
  before(() => {
    for (const part of ["bin", "src", "package.json"])
      cpSync(join(root, part), join(copy, part), {
        recursive: true,
        verbatimSymlinks: true,
        preserveTimestamps: true,
      });
    for (const f of ["build.mjs", "build-stamp.mjs"])
      cpSync(join(root, "scripts", f), join(copy, "scripts", f), { preserveTimestamps: true });
    symlinkSync(join(root, "node_modules"), join(copy, "node_modules"));
    execFileSync(process.execPath, [join(copy, "scripts", "build.mjs")], { stdio: "pipe" });
  });
  after(() => rmSync(copy, { recursive: true, force: true }));

  it("runs bin/ate and bin/kubectl-ate from dist/ while it is current", () => {
    assert.ok(existsSync(join(copy, "dist", "bin.js")));
    markBuild();
    const run = ate("ate", "version", "--client");
    assert.equal(run.stderr, "");
    assert.equal(run.stdout, `Client Version (dist): ${version}\n`);
    const help = ate("kubectl-ate", "--help");
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Usage: kubectl ate \[options\] \[command\]/);
  });

  it("loads a lazily loaded command's chunk, and finds files beside its sources", () => {
    // `ate up` loads the heavy chunks; its first check fails here, with the usual message.
    const up = ate(
      "ate",
      "up",
      "--runsc",
      join(copy, "no-such-runsc"),
      "--state-dir",
      join(copy, "up"),
    );
    assert.equal(up.status, 1);
    assert.match(up.stderr, /^Error: runsc \(gVisor\) is not installed/m);
    // The helper the network module runs is not bundled: the chunk names it beside the source.
    const named = readdirSync(join(copy, "dist"))
      .filter((n) => n.endsWith(".js"))
      .flatMap((n) => {
        const text = readFileSync(join(copy, "dist", n), "utf8");
        const m = text.match(/new URL\("([^"]*reset-connections\.mjs)",\s*import\.meta\.url\)/);
        return m?.[1] ? [new URL(m[1], pathToFileURL(join(copy, "dist", n)))] : [];
      });
    assert.equal(named.length, 1);
    assert.equal(
      fileURLToPath(named[0] as URL),
      join(copy, "src", "sandbox", "gvisor", "reset-connections.mjs"),
    );
    assert.ok(existsSync(named[0] as URL));
  });

  it("prints -o yaml from dist/ (yaml, loaded lazily, is bundled as CommonJS there)", () => {
    const home = join(copy, "home");
    const pool = join(copy, "pool.yaml");
    writeFileSync(
      pool,
      'apiVersion: ate.dev/v1alpha1\nkind: WorkerPool\nmetadata: {name: p1}\nspec: {replicas: 1, ateomImage: "ateom:latest"}\n',
    );
    const applied = ate("ate", "--home", home, "apply", "-f", pool);
    assert.equal(applied.status, 0, applied.stderr);
    const got = ate("ate", "--home", home, "get", "workerpool", "p1", "-o", "yaml");
    assert.equal(got.status, 0, got.stderr);
    assert.match(got.stdout, /^apiVersion: ate.dev\/v1alpha1\nkind: WorkerPool\nmetadata:\n/);
    assert.match(got.stdout, /\n {2}name: p1\n/);
  });

  it("runs the sources through tsx, with a one-line hint, once a source changed", () => {
    const source = join(copy, "src", "cli", "commands", "version.ts");
    appendFileSync(source, "\n// changed after the build\n");
    const run = ate("ate", "version", "--client");
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, `Client Version: ${version}\n`);
    assert.match(run.stderr, /^ate: dist\/ is older than its sources; .*npm run build.*\n$/);
  });

  it("counts a source put back to an older version (same size, older mtime) as a change", async () => {
    execFileSync(process.execPath, [join(copy, "scripts", "build.mjs")], { stdio: "pipe" });
    const { buildState } = (await import(
      pathToFileURL(join(copy, "scripts", "build-stamp.mjs")).href
    )) as { buildState: (root: URL) => string };
    const rootUrl = pathToFileURL(`${copy}/`);
    assert.equal(buildState(rootUrl), "fresh");
    const source = join(copy, "src", "version.ts");
    const { atime, mtime } = statSync(source);
    utimesSync(source, atime, new Date(mtime.getTime() - 60_000));
    assert.equal(buildState(rootUrl), "stale");
    rmSync(join(copy, "dist"), { recursive: true });
    assert.equal(buildState(rootUrl), "missing");
    // No build at all is the development path: the sources, and no hint.
    const run = ate("ate", "version", "--client");
    assert.equal(run.stderr, "");
    assert.equal(run.stdout, `Client Version: ${version}\n`);
  });
});
