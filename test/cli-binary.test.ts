// The real executable, as users run it from a clone: bin/ate in a child process.
import assert from "node:assert/strict";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

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

describe("bin/ate against a server with tokens", () => {
  it("uses the token ate up writes; a tenant token sees its atespace only; a deleted one is refused", async () => {
    const { actorTemplate } = await import("../src/api/testing.ts");
    const { ActorTemplateType } = await import("../src/api/v1alpha1/index.ts");
    const { ensureAdminCredential, TokenStore, writeAdminClientConfig } = await import(
      "../src/auth/index.ts"
    );
    const { ControlPlane, StaticNodeDirectory } = await import("../src/controlplane/index.ts");
    const { Records, SqliteRecordStore } = await import("../src/records/index.ts");
    const { SqliteResourceStore } = await import("../src/resources/index.ts");
    const { startTestApi } = await import("./support/api-server.ts");
    const work = mkdtempSync(join(tmpdir(), "ate-bin-tokens-"));
    const resources = new SqliteResourceStore({ path: ":memory:" });
    const records = new Records(new SqliteRecordStore(":memory:"));
    const cp = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({}) });
    const api = await startTestApi({ controlPlane: cp, resources });
    try {
      await resources.create(ActorTemplateType, actorTemplate("counter"));
      await cp.createAtespace("default");
      // What ate up does: the admin token in its state dir, and in the CLI's config.
      const credential = await ensureAdminCredential({
        stateDir: join(work, "state"),
        tokens: new TokenStore(records.store),
      });
      const config = join(work, "config.yaml");
      writeAdminClientConfig(config, api.url, credential);
      const { ATE_SERVER, ATE_TOKEN, ATE_HOME, ...env } = process.env;
      // Asynchronous: the server answers from this very process.
      const run = async (args: string[], extra: Record<string, string> = {}) => {
        try {
          const r = await promisify(execFile)(join(root, "bin", "ate"), args, {
            env: { ...env, ATE_CONFIG: config, ...extra },
            encoding: "utf8",
          });
          return { status: 0, stdout: r.stdout, stderr: r.stderr };
        } catch (err) {
          const e = err as { code: number; stdout: string; stderr: string };
          return { status: e.code, stdout: e.stdout, stderr: e.stderr };
        }
      };
      const ok = async (args: string[], extra: Record<string, string> = {}) => {
        const r = await run(args, extra);
        assert.equal(r.status, 0, `ate ${args.join(" ")}: ${r.stderr}`);
        return r.stdout;
      };
      await ok(["create", "atespace", "a"]);
      await ok(["create", "actor", "x", "-t", "counter", "-a", "a"]);
      await ok(["create", "actor", "y", "-t", "counter"]);
      assert.match(await ok(["get", "actors", "-A"]), /\bx\b[\s\S]*\by\b/);

      const tenant = (await ok(["create", "token", "t", "--atespace", "a"])).trim();
      assert.match(tenant, /^ate_t_[0-9a-f]{64}$/);
      const seen = await ok(["get", "actors", "-A"], { ATE_TOKEN: tenant });
      assert.match(seen, /^a\s+default\s+counter\s+x\s+SUSPENDED/m);
      assert.doesNotMatch(seen, /\by\b/);
      assert.match(await ok(["get", "actors"], { ATE_TOKEN: tenant }), /\bx\b/, "-a defaults to a");

      assert.equal(await ok(["delete", "token", "t"]), "token/t deleted\n");
      const refused = await run(["get", "actors"], { ATE_TOKEN: tenant });
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /^Error: no valid token for the ate API at .*ATE_TOKEN/);
    } finally {
      await api.close();
      await resources.close();
      await records.store.close();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
