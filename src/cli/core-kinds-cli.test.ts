// `ate create namespace|secret generic`, get, apply and delete of v1 Namespace and Secret,
// against a local store; no command prints a secret value except `-o yaml|json` (as kubectl).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { stringify } from "yaml";
import { runCliCaptured } from "../../test/support/cli.ts";
import { namespaceObject, secretObject, workerPool } from "../api/testing.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("ate CLI: namespaces and secrets", () => {
  let dir: string;
  const ate = async (...args: string[]) => {
    const run = await runCliCaptured(["--home", dir, ...args]);
    return { ...run, out: run.out.trimEnd() };
  };
  const file = (name: string, ...docs: unknown[]) => {
    const path = join(dir, name);
    writeFileSync(path, docs.map((d) => stringify(d)).join("---\n"));
    return path;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "ate-cli-core-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("creates namespaces and lists them with default, which always exists", async () => {
    assert.deepEqual(await ate("create", "namespace", "team"), {
      code: 0,
      out: "namespace/team created",
      err: "",
    });
    const { out } = await ate("get", "ns");
    assert.match(out, /^NAME\s+STATUS\s+AGE\ndefault\s+Active\s+\d+s\nteam\s+Active\s+\d+s$/);
    const again = await ate("create", "namespace", "team");
    assert.equal(again.code, 1);
    assert.match(again.err, /namespaces "team" already exists/);
    const bad = await ate("create", "namespace", "Team.A");
    assert.match(bad.err, /metadata.name: Invalid value: "Team.A": a lowercase RFC 1123 label/);
  });

  it("creates a generic secret from literals and files; get shows NAME TYPE DATA AGE, never values", async () => {
    await ate("create", "ns", "team");
    const cert = join(dir, "tls.crt");
    writeFileSync(cert, "CERT-BYTES");
    const keys = join(dir, "keys");
    mkdirSync(keys);
    writeFileSync(join(keys, "a.key"), "KEY-A");
    writeFileSync(join(keys, "b.key"), "KEY-B");
    const created = await ate(
      "create",
      "secret",
      "generic",
      "db",
      "--from-literal",
      "user=app",
      "--from-literal=password=s3cr3t=x",
      "--from-file",
      cert,
      "--from-file",
      `ca=${cert}`,
      "--from-file",
      keys,
      "-n",
      "team",
    );
    assert.deepEqual(created, { code: 0, out: "secret/db created", err: "" });
    const table = await ate("get", "secrets", "-n", "team");
    assert.match(table.out, /^NAME\s+TYPE\s+DATA\s+AGE\ndb\s+Opaque\s+6\s+\d+s$/);
    const all = await ate("get", "secrets", "-A");
    assert.match(all.out, /^NAMESPACE\s+NAME\s+TYPE\s+DATA\s+AGE\nteam\s+db\s+Opaque\s+6\s/);
    for (const shown of [table.out, all.out])
      assert.doesNotMatch(shown, /s3cr3t|CERT-BYTES|KEY-A|app\b/);
    const yaml = (await ate("get", "secret", "db", "-n", "team", "-o", "yaml")).out;
    assert.match(yaml, /^apiVersion: v1\nkind: Secret\n/m);
    assert.match(yaml, new RegExp(`password: ${b64("s3cr3t=x")}`));
    assert.match(yaml, new RegExp(`tls.crt: ${b64("CERT-BYTES")}`));
    assert.match(yaml, new RegExp(`ca: ${b64("CERT-BYTES")}`));
    assert.match(yaml, new RegExp(`a.key: ${b64("KEY-A")}`));
  });

  it("refuses what kubectl refuses, naming keys but never values", async () => {
    const dup = await ate(
      "create",
      "secret",
      "generic",
      "s",
      "--from-literal",
      "k=SECRET1",
      "--from-literal",
      "k=SECRET2",
    );
    assert.equal(dup.code, 1);
    assert.equal(
      dup.err,
      'Error: cannot add key k, another key by that name already exists in Data for Secret "s"',
    );
    const noKey = await ate("create", "secret", "generic", "s", "--from-literal", "SECRETVALUE");
    assert.equal(
      noKey.err,
      "Error: invalid literal source (--from-literal number 1), expected key=value",
    );
    const badKey = await ate("create", "secret", "generic", "s", "--from-literal", "a b=SECRET");
    assert.match(badKey.err, /^Error: "a b" is not valid key name for a Secret a valid config key/);
    const missingNs = await ate(
      "create",
      "secret",
      "generic",
      "s",
      "--from-literal",
      "k=v",
      "-n",
      "nope",
    );
    assert.equal(missingNs.err, 'Error: namespaces "nope" not found');
    const tls = await ate("create", "secret", "tls", "s");
    assert.match(tls.err, /only "generic" secrets are created here/);
    for (const r of [dup, noKey, badKey, missingNs])
      assert.doesNotMatch(r.err, /SECRET\d?\b|SECRETVALUE/);
    assert.match((await ate("get", "secrets")).err, /^No resources found in default namespace\.$/);
  });

  it("dry-runs a secret on the client or the server, storing nothing", async () => {
    const client = await ate(
      "create",
      "secret",
      "generic",
      "s",
      "--from-literal",
      "k=v",
      "--dry-run",
    );
    assert.equal(client.out, "secret/s created (dry run)");
    const server = await ate(
      "create",
      "secret",
      "generic",
      "s",
      "--from-literal",
      "k=v",
      "--dry-run=server",
      "-o",
      "json",
    );
    assert.deepEqual(JSON.parse(server.out).data, { k: b64("v") });
    assert.match((await ate("get", "secrets")).err, /No resources found/);
  });

  it("applies a file whose Namespace comes after what it holds, dry-runs it first, then deletes it", async () => {
    const secret = secretObject("token", { token: "abc" }, "agents");
    const path = file(
      "app.yaml",
      secret,
      workerPool("pool", {}, "agents"),
      namespaceObject("agents"),
    );
    const dry = await ate("apply", "--dry-run=server", "-f", path);
    assert.equal(
      dry.out,
      "namespace/agents created (server dry run)\nsecret/token created (server dry run)\nworkerpool.ate.dev/pool created (server dry run)",
    );
    assert.equal((await ate("get", "ns", "agents")).code, 1, "a dry run stores nothing");
    const applied = await ate("apply", "-f", path);
    assert.equal(
      applied.out,
      "namespace/agents created\nsecret/token created\nworkerpool.ate.dev/pool created",
    );
    assert.match((await ate("apply", "-f", path)).out, /secret\/token unchanged/);
    const deleted = await ate("delete", "-f", path);
    assert.equal(
      deleted.out,
      'secret "token" deleted\nworkerpool.ate.dev "pool" deleted\nnamespace "agents" deleted',
    );
    const gone = await ate("delete", "namespace", "default");
    assert.equal(
      gone.err,
      'Error: namespaces "default" is forbidden: this namespace may not be deleted',
    );
  });

  it("deletes a namespace and everything in it", async () => {
    await ate("create", "namespace", "tmp");
    await ate("create", "secret", "generic", "s", "--from-literal", "k=v", "-n", "tmp");
    assert.equal((await ate("delete", "ns", "tmp")).out, 'namespace "tmp" deleted');
    assert.match((await ate("get", "secrets", "-A")).err, /No resources found/);
  });
});
