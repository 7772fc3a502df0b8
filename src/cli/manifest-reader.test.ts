import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, isAteError } from "../errors/index.ts";
import { decodeManifests } from "./manifest-reader.ts";

const head = "apiVersion: ate.dev/v1alpha1\nkind: WorkerPool\nmetadata: {name: p}\n";

describe("reading manifests", () => {
  it("refuses YAML or JSON nested deeper than 64 levels, naming the file and the limit", () => {
    const deep = (open: string, close: string, n: number) =>
      `${head}spec: ${open.repeat(n)}${close.repeat(n)}\n`;
    let block = `${head}spec:\n`;
    for (let i = 1; i <= 100; i++) block += `${" ".repeat(i)}k:\n`;
    for (const [what, text] of [
      ["flow sequences", deep("[", "]", 10_000)],
      ["flow mappings", `${head}spec: ${"{a: ".repeat(10_000)}1${"}".repeat(10_000)}\n`],
      ["block mappings", block],
      [
        "JSON",
        `{"apiVersion":"ate.dev/v1alpha1","kind":"WorkerPool","spec":${"[".repeat(5000)}${"]".repeat(5000)}}`,
      ],
    ] as const)
      assert.throws(
        () => decodeManifests(text, "deep.yaml"),
        (e) =>
          isAteError(e, Code.InvalidArgument) &&
          /^error parsing deep.yaml: it nests deeper than 64 levels/.test(e.message),
        what,
      );
    // 64 levels in all (the document's mapping is the first) are fine.
    const [doc] = decodeManifests(deep("[", "]", 63), "ok.yaml");
    assert.equal(doc?.object.kind, "WorkerPool");
  });

  it("reads Kubernetes RBAC documents beside ate's, names them as skipped and sends none", () => {
    const text = [
      head,
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: reader, namespace: demo}\nrules: []\n",
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: bind}\nsubjects: []\n",
    ].join("---\n");
    const skipped: string[] = [];
    const docs = decodeManifests(text, "demo.yaml", skipped);
    assert.deepEqual(
      docs.map((d) => d.object.kind),
      ["WorkerPool"],
    );
    assert.deepEqual(skipped, [
      "role.rbac.authorization.k8s.io/reader skipped: ate enforces its own access rules (API tokens scoped to atespaces), not Kubernetes RBAC",
      "rolebinding.rbac.authorization.k8s.io/bind skipped: ate enforces its own access rules (API tokens scoped to atespaces), not Kubernetes RBAC",
    ]);
    // Another kind of that group is no RBAC rule ate knows to skip: refused as any unknown kind.
    assert.throws(
      () => decodeManifests("apiVersion: rbac.authorization.k8s.io/v1\nkind: Other\n", "x.yaml"),
      (e) => isAteError(e, Code.InvalidArgument) && /no matches for kind "Other"/.test(e.message),
    );
  });
});
