// The real executable, as users run it from a clone: bin/ate in a child process.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const home = mkdtempSync(join(tmpdir(), "ate-bin-"));
const ate = (...args: string[]) =>
  spawnSync(join(root, "bin", "ate"), args, {
    encoding: "utf8",
    env: { ...process.env, ATE_HOME: home },
    stdio: ["ignore", "pipe", "pipe"],
  });

describe("bin/ate", () => {
  after(() => rmSync(home, { recursive: true, force: true }));

  it("applies the examples into $ATE_HOME and lists them", () => {
    const applied = ate("apply", "-f", join(root, "examples"));
    assert.equal(applied.status, 0, applied.stderr);
    assert.equal(
      applied.stdout,
      "sandboxconfig.ate.dev/gvisor-pinned created\nworkerpool.ate.dev/default-pool created\nactortemplate.ate.dev/counter created\n",
    );
    const got = ate("get", "sandboxconfigs");
    assert.match(
      got.stdout,
      /^NAME\s+CLASS\s+DEFAULT\s+AGE\ngvisor-pinned\s+gvisor\s+false\s+\d+s\n$/,
    );
  });

  it("exits non-zero with the message on stderr for invalid input", () => {
    const run = spawnSync(join(root, "bin", "ate"), ["apply", "--dry-run", "-f", "-"], {
      encoding: "utf8",
      input:
        "apiVersion: ate.dev/v1alpha1\nkind: SandboxConfig\nmetadata: {name: x}\nspec: {sandboxClass: gvisor}\n",
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /SandboxConfig "x" is invalid: .*must define a 'runsc' asset/);
  });

  it("ate up says what the machine lacks and how to get it, and exits non-zero", () => {
    const up = ate("up", "--runsc", join(home, "no-such-runsc"), "--state-dir", join(home, "up"));
    assert.equal(up.status, 1);
    assert.match(up.stderr, /^Error: runsc \(gVisor\) is not installed: .*apt-get install/m);
  });

  it("exits 2 on a command line it does not understand", () => {
    const bad = ate("get");
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /missing required argument 'kind'/);
  });

  it("is the kubectl plugin `kubectl ate` when installed as kubectl-ate", () => {
    assert.match(
      execFileSync(join(root, "bin", "kubectl-ate"), ["--help"], { encoding: "utf8" }),
      /Usage: kubectl ate \[options\] \[command\]/,
    );
    assert.match(ate("version", "--client").stdout, /^Client Version: \d+\.\d+\.\d+\n$/);
  });

  it("prints usage for --help", () => {
    assert.match(
      execFileSync(join(root, "bin", "ate"), ["--help"], { encoding: "utf8" }),
      /Usage: ate \[options\] \[command\]/,
    );
  });
});

describe("ate image", () => {
  it("pushes a directory as an image and pulls it back by digest", async () => {
    const { startRegistry } = await import("./support/registry.ts");
    const { mkdirSync, writeFileSync, existsSync } = await import("node:fs");
    const registry = await startRegistry();
    const work = mkdtempSync(join(tmpdir(), "ate-image-cli-"));
    try {
      mkdirSync(join(work, "root", "app"), { recursive: true });
      writeFileSync(join(work, "root", "app", "hello.txt"), "hi");
      const pushed = ate(
        "image",
        "push",
        join(work, "root"),
        `${registry.host}/ate/hello:v1`,
        "--entrypoint",
        "/app/hello",
      );
      assert.equal(pushed.status, 0, pushed.stderr);
      const ref = pushed.stdout.trim();
      assert.match(ref, new RegExp(`^${registry.host}/ate/hello@sha256:[a-f0-9]{64}$`));
      const pulled = ate("image", "pull", ref, "--cache", join(work, "cache"));
      assert.equal(pulled.status, 0, pulled.stderr);
      const [digest, rootfs] = pulled.stdout.trim().split(" ");
      assert.equal(digest, ref.slice(ref.indexOf("@") + 1));
      assert.ok(existsSync(join(rootfs as string, "app", "hello.txt")));
      const unpinned = ate("image", "pull", `${registry.host}/ate/hello:v1`);
      assert.equal(unpinned.status, 1);
      assert.match(unpinned.stderr, /is not pinned by digest/);
    } finally {
      await registry.stop();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
