// Agent Substrate's own demo manifests (test/fixtures/anchor: their text, ko:// images pinned and
// placeholders filled) through `ate apply --dry-run` (offline), `--dry-run=server` and `apply`.
// Every document applies: v1 Namespace, v1 Secret, RBAC (skipped), WorkerPool and ActorTemplate,
// the templates with the anchor's fields from other versions of its API (pauseImage absent,
// homeDir volumes and process/homedir scopes, spec.resources, ports, workerPoolRef).
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { runCliCaptured } from "../../test/support/cli.ts";

const fixtures = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "test",
  "fixtures",
  "anchor",
);

describe("Agent Substrate's demo manifests", () => {
  let dir: string;
  const ate = async (...args: string[]) => {
    const run = await runCliCaptured(["--home", dir, ...args]);
    return { ...run, out: run.out.trimEnd() };
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "ate-anchor-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const files = readdirSync(fixtures).filter((f) => f.endsWith(".yaml"));
  it("are all here", () => assert.equal(files.length, 5));

  for (const name of files) {
    const path = join(fixtures, name);
    it(`${name}: apply --dry-run, --dry-run=server, apply and apply again accept it whole`, async () => {
      for (const args of [["--dry-run"], ["--dry-run=server"], []]) {
        const r = await ate("apply", ...args, "-f", path);
        assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
      }
      const templates = parseAllDocuments(readFileSync(path, "utf8")).filter(
        (d) => d.get("kind") === "ActorTemplate",
      ).length;
      const got = await ate("get", "actortemplates", "-A", "-o", "name");
      assert.equal(got.out.split("\n").filter(Boolean).length, templates, got.out);
      // Stored as written: applying the same file again changes nothing.
      const again = await ate("apply", "-f", path);
      assert.equal(again.code, 0, again.err);
      assert.ok(
        again.out.split("\n").every((l) => l.endsWith(" unchanged") || l.includes(" skipped: ")),
        again.out,
      );
    });

    it(`${name}: its Namespace, Secret, RBAC and WorkerPool documents apply, Namespaces first`, async () => {
      // The file without its ActorTemplates, text otherwise as it is.
      const docs = parseAllDocuments(readFileSync(path, "utf8"))
        .map((d) => d.toString())
        .filter((t) => !/^kind: ActorTemplate$/m.test(t));
      const rest = join(dir, name);
      writeFileSync(rest, docs.join("---\n"));
      const offline = await ate("apply", "--dry-run", "-f", rest);
      assert.equal(offline.code, 0, offline.err);
      const server = await ate("apply", "--dry-run=server", "-f", rest);
      assert.equal(server.code, 0, server.err);
      assert.equal((await ate("get", "ns", "-o", "name")).out, "namespace/default");
      const applied = await ate("apply", "-f", rest);
      assert.equal(applied.code, 0, applied.err);
      const lines = applied.out.split("\n").filter((l) => !l.includes(" skipped: "));
      const firstOther = lines.findIndex((l) => !l.startsWith("namespace/"));
      assert.ok(
        lines.slice(firstOther).every((l) => !l.startsWith("namespace/")),
        `Namespaces come first:\n${applied.out}`,
      );
      assert.ok(
        lines.every((l) => l.endsWith(" created")),
        applied.out,
      );
      for (const line of applied.out.split("\n").filter((l) => l.includes(" skipped: ")))
        assert.match(
          line,
          /rbac\.authorization\.k8s\.io\/.* skipped: ate enforces its own access rules/,
        );
      const again = await ate("apply", "-f", rest);
      assert.ok(
        again.out.split("\n").every((l) => l.endsWith(" unchanged") || l.includes(" skipped: ")),
        again.out,
      );
    });
  }

  it("claude-code-multiplex.yaml's Secret holds its key as data, shown only by -o yaml", async () => {
    const docs = parseAllDocuments(
      readFileSync(join(fixtures, "claude-code-multiplex.yaml"), "utf8"),
    )
      .map((d) => d.toString())
      .filter((t) => /^kind: (Namespace|Secret)$/m.test(t));
    const path = join(dir, "secret.yaml");
    writeFileSync(path, docs.join("---\n"));
    assert.equal((await ate("apply", "-f", path)).code, 0);
    const table = await ate("get", "secrets", "-n", "claude-multiplex-demo");
    assert.match(table.out, /^NAME\s+TYPE\s+DATA\s+AGE\nanthropic-api-key\s+Opaque\s+1\s+\d+s$/);
    const yaml = await ate(
      "get",
      "secret",
      "anthropic-api-key",
      "-n",
      "claude-multiplex-demo",
      "-o",
      "yaml",
    );
    const key = Buffer.from("sk-ant-fixture-not-a-real-key").toString("base64");
    assert.match(yaml.out, new RegExp(`api-key: ${key}`));
    assert.doesNotMatch(yaml.out, /stringData/);
  });
});
