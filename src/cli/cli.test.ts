import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { stringify } from "yaml";
import { actorTemplate, namespaceObject, sandboxConfig, workerPool } from "../api/testing.ts";
import type { CliIO } from "./io.ts";
import { runCli } from "./main.ts";

interface Run {
  code: number;
  out: string;
  err: string;
}

describe("ate CLI", () => {
  let dir: string;
  let stdin = "";
  const now = new Date();
  const ate = async (...args: string[]): Promise<Run> => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIO = {
      out: (t) => out.push(t),
      write: (t) => out.push(t),
      err: (t) => err.push(t),
      stdin: () => stdin,
      now: () => now,
    };
    const code = await runCli(["--home", dir, ...args], io);
    return { code, out: out.join("\n"), err: err.join("\n") };
  };
  const file = (name: string, ...docs: unknown[]) => {
    const path = join(dir, name);
    writeFileSync(path, docs.map((d) => (typeof d === "string" ? d : stringify(d))).join("---\n"));
    return path;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "ate-cli-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("applies multi-document YAML with a line per object, then reports configured and unchanged", async () => {
    const path = file(
      "all.yaml",
      sandboxConfig("gvisor-default", { default: true }),
      workerPool("pool"),
      actorTemplate("counter"),
    );
    assert.deepEqual(await ate("apply", "-f", path), {
      code: 0,
      out: "sandboxconfig.ate.dev/gvisor-default created\nworkerpool.ate.dev/pool created\nactortemplate.ate.dev/counter created",
      err: "",
    });
    file(
      "all.yaml",
      sandboxConfig("gvisor-default", { default: true }),
      workerPool("pool", { replicas: 3 }),
      actorTemplate("counter"),
    );
    assert.equal(
      (await ate("apply", "-f", path)).out,
      "sandboxconfig.ate.dev/gvisor-default unchanged\nworkerpool.ate.dev/pool configured\nactortemplate.ate.dev/counter unchanged",
    );
  });

  it("accepts JSON, directories and stdin", async () => {
    writeFileSync(join(dir, "a.json"), JSON.stringify(sandboxConfig("a")));
    file("b.yaml", workerPool("b"));
    assert.equal(
      (await ate("apply", "-f", dir)).out,
      "sandboxconfig.ate.dev/a created\nworkerpool.ate.dev/b created",
    );
    stdin = stringify(workerPool("c"));
    assert.equal((await ate("apply", "-f", "-")).out, "workerpool.ate.dev/c created");
  });

  it("shows sandboxconfigs with NAME, CLASS, DEFAULT and AGE", async () => {
    await ate(
      "apply",
      "-f",
      file(
        "c.yaml",
        sandboxConfig("gvisor-default", { default: true }),
        sandboxConfig("gvisor-next"),
      ),
    );
    const { code, out } = await ate("get", "sandboxconfigs");
    assert.equal(code, 0);
    const lines = out.split("\n");
    assert.match(lines[0] ?? "", /^NAME\s+CLASS\s+DEFAULT\s+AGE$/);
    assert.match(lines[1] ?? "", /^gvisor-default\s+gvisor\s+true\s+\d+s$/);
    assert.match(lines[2] ?? "", /^gvisor-next\s+gvisor\s+false\s+\d+s$/);
    for (const alias of [
      "sandboxconfig",
      "SandboxConfig",
      "SANDBOXCONFIGS",
      "sandboxconfigs.ate.dev",
    ]) {
      assert.equal((await ate("get", alias)).out, out, alias);
    }
  });

  it("gets by name, kind/name, across namespaces, and as yaml, json or wide", async () => {
    // The namespace's document may come last: apply writes Namespaces first.
    const docs = [workerPool("p1"), workerPool("p2", {}, "other"), namespaceObject("other")];
    assert.equal((await ate("apply", "-f", file("p.yaml", ...docs))).code, 0);
    assert.match(
      (await ate("get", "workerpool", "p1")).out,
      /^NAME\s+DESIRED\s+REPLICAS\s+AGE\np1\s+2\s+<none>\s+\d+s$/,
    );
    assert.match((await ate("get", "workerpools/p2", "-n", "other")).out, /^NAME.*\np2\s/);
    assert.match(
      (await ate("get", "workerpools", "-A")).out,
      /^NAMESPACE\s+NAME\s+DESIRED\s+REPLICAS\s+AGE\ndefault\s+p1\s.*\nother\s+p2\s/,
    );
    assert.match(
      (await ate("get", "workerpools", "-o", "wide")).out,
      /^NAME\s+DESIRED\s+REPLICAS\s+CLASS\s+SANDBOXCONFIG\s+AGE\np1\s+2\s+<none>\s+gvisor\s+<none>/,
    );
    const yaml = (await ate("get", "workerpool", "p1", "-o", "yaml")).out;
    assert.match(yaml, /^apiVersion: ate.dev\/v1alpha1\nkind: WorkerPool\n/);
    assert.match(yaml, /resourceVersion: "\d+"/);
    const list = JSON.parse((await ate("get", "workerpools", "-A", "-o", "json")).out);
    assert.equal(list.kind, "List");
    assert.equal(list.items.length, 2);
    assert.equal((await ate("get", "workerpools", "-o", "name")).out, "workerpool.ate.dev/p1");
  });

  it("says when there is nothing, and names what is missing", async () => {
    assert.deepEqual(await ate("get", "actortemplates"), {
      code: 0,
      out: "",
      err: "No resources found in default namespace.",
    });
    assert.deepEqual(await ate("get", "sandboxconfig", "nope"), {
      code: 1,
      out: "",
      err: 'Error: sandboxconfigs.ate.dev "nope" not found',
    });
    const unknown = await ate("get", "pods");
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.err,
      /doesn't have a resource type "pods": known types are namespaces, secrets, sandboxconfigs, workerpools, actortemplates/,
    );
  });

  it("rejects a gvisor SandboxConfig without runsc for one of its arches, storing nothing", async () => {
    const bad = sandboxConfig("half", {
      assets: {
        amd64: { runsc: { url: "file:///r", sha256: "a".repeat(64) } },
        arm64: { other: { url: "file:///o", sha256: "b".repeat(64) } },
      },
    });
    const path = file("bad.yaml", sandboxConfig("fine"), bad);
    const run = await ate("apply", "-f", path);
    assert.equal(run.code, 1);
    assert.equal(run.out, "");
    assert.equal(
      run.err,
      "SandboxConfig \"half\" is invalid: ValidatingAdmissionPolicy 'sandboxconfig-assets.ate.dev' with binding 'sandboxconfig-assets.ate.dev' denied request: a gvisor SandboxConfig must define a 'runsc' asset for every architecture under spec.assets",
    );
    assert.equal(
      (await ate("get", "sandboxconfigs")).err,
      "No resources found",
      "not even the valid document is written",
    );
  });

  it("validates offline with --dry-run and writes nothing", async () => {
    const ok = await ate("apply", "--dry-run", "-f", file("ok.yaml", sandboxConfig("c")));
    assert.deepEqual(ok, { code: 0, out: "sandboxconfig.ate.dev/c created (dry run)", err: "" });
    const bad = await ate(
      "apply",
      "--dry-run=client",
      "-f",
      file(
        "bad.yaml",
        sandboxConfig("bad-sha", {
          assets: { amd64: { runsc: { url: "file:///u", sha256: "deadbeef" } } },
        }),
      ),
    );
    assert.equal(bad.code, 1);
    assert.match(
      bad.err,
      /^SandboxConfig "bad-sha" is invalid: spec.assets.amd64.runsc.sha256: Invalid value: "deadbeef": /,
    );
    assert.equal((await ate("get", "sandboxconfigs")).err, "No resources found");
  });

  it("validates against stored objects with --dry-run=server", async () => {
    await ate("apply", "-f", file("t.yaml", actorTemplate("t")));
    const run = await ate(
      "apply",
      "--dry-run=server",
      "-f",
      file("t2.yaml", actorTemplate("t", { sandboxClass: "microvm" })),
    );
    assert.equal(run.code, 1);
    assert.match(
      run.err,
      /ActorTemplate "t" is invalid: spec: Invalid value: "object": Spec is immutable/,
    );
  });

  it("gives clear errors for malformed YAML, unknown kinds and unknown fields, writing nothing", async () => {
    const cases: [string, RegExp][] = [
      [
        "kind: SandboxConfig\nmetadata: {name: x\n",
        /^Error: error parsing .*m\.yaml \(document 2\): [^:]+ at line \d+, column \d+: fix the YAML and apply again$/,
      ],
      [
        "apiVersion: ate.dev/v1alpha1\nkind: Pod\nmetadata: {name: x}\n",
        /no matches for kind "Pod" in version "ate.dev\/v1alpha1"/,
      ],
      [
        "apiVersion: v1\nkind: SandboxConfig\nmetadata: {name: x}\n",
        /no matches for kind "SandboxConfig" in version "v1"/,
      ],
      [
        "kind: SandboxConfig\nmetadata: {name: x}\n",
        /apiVersion' is missing in kind SandboxConfig/,
      ],
      ["- just\n- a list\n", /a manifest must be an object/],
      [
        "apiVersion: ate.dev/v1alpha1\nkind: WorkerPool\nmetadata: {name: x}\nspec: {replicas: 1, ateomImage: a, replicaz: 2}\n",
        /WorkerPool "x" is invalid: strict decoding error: unknown field "spec.replicaz"/,
      ],
      [
        "apiVersion: ate.dev/v1alpha1\nkind: WorkerPool\nmetadata: {name: x}\nspec: {replicas: 1, replicas: 2, ateomImage: a}\n",
        /Map keys must be unique/,
      ],
    ];
    for (const [text, expected] of cases) {
      const run = await ate("apply", "-f", file("m.yaml", stringify(sandboxConfig("first")), text));
      assert.equal(run.code, 1, text);
      assert.match(run.err, expected, text);
    }
    assert.equal((await ate("get", "sandboxconfigs")).err, "No resources found");
    assert.match(
      (await ate("apply", "-f", join(dir, "missing.yaml"))).err,
      /the path ".*missing.yaml" does not exist/,
    );
  });

  it("deletes by name, by kind/name and by file", async () => {
    const path = file("all.yaml", sandboxConfig("c"), workerPool("p"), actorTemplate("t"));
    await ate("apply", "-f", path);
    assert.deepEqual(await ate("delete", "sandboxconfig", "c"), {
      code: 0,
      out: 'sandboxconfig.ate.dev "c" deleted',
      err: "",
    });
    assert.equal((await ate("delete", "workerpools/p")).out, 'workerpool.ate.dev "p" deleted');
    const again = await ate("delete", "-f", path);
    assert.equal(again.code, 1);
    assert.equal(again.out, 'actortemplate.ate.dev "t" deleted');
    assert.equal(
      again.err,
      'Error: sandboxconfigs.ate.dev "c" not found\nError: workerpools.ate.dev "p" not found',
    );
    assert.equal((await ate("delete", "-f", path, "--ignore-not-found")).code, 0);
  });
});
