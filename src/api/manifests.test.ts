import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  compileCel,
  generatedManifests,
  type JSONSchemaProps,
  objectSchema,
} from "./schema/index.ts";
import { resourceTypes } from "./v1alpha1/index.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function* nodes(schema: JSONSchemaProps, path = ""): Generator<[string, JSONSchemaProps]> {
  yield [path, schema];
  for (const [k, v] of Object.entries(schema.properties ?? {})) yield* nodes(v, `${path}.${k}`);
  if (schema.items) yield* nodes(schema.items, `${path}[]`);
  if (schema.additionalProperties) yield* nodes(schema.additionalProperties, `${path}.*`);
}

describe("generated manifests", () => {
  it("match what is committed under manifests/ (run `npm run generate` after changing a schema)", () => {
    for (const [path, content] of generatedManifests(resourceTypes)) {
      let committed = "";
      try {
        committed = readFileSync(join(root, path), "utf8");
      } catch {
        assert.fail(`${path} is not committed: run npm run generate`);
      }
      assert.equal(committed, content, `${path} differs from the schema: run npm run generate`);
    }
  });

  it("declare scope, short names, printer columns and subresources", () => {
    const crd = (plural: string) =>
      generatedManifests(resourceTypes).get(`manifests/crds/ate.dev_${plural}.yaml`) ?? "";
    assert.match(crd("sandboxconfigs"), /scope: Cluster/);
    assert.match(
      crd("sandboxconfigs"),
      /name: Default\n\s+type: boolean\n\s+jsonPath: .spec.default/,
    );
    assert.match(
      crd("workerpools"),
      /scale:\n\s+specReplicasPath: .spec.replicas\n\s+statusReplicasPath: .status.replicas/,
    );
    assert.match(crd("actortemplates"), /status: \{\}/);
    assert.match(crd("actortemplates"), /shortNames:\n\s+- actortemplate/);
  });
});

describe("schemas", () => {
  for (const rt of resourceTypes) {
    it(`${rt.kind}: every CEL rule compiles and every pattern is a valid regular expression`, () => {
      for (const [path, node] of nodes(objectSchema(rt))) {
        for (const { rule } of node["x-kubernetes-validations"] ?? [])
          assert.doesNotThrow(() => compileCel(rule), `${path}: ${rule}`);
        if (node.pattern)
          assert.doesNotThrow(
            () => new RegExp(node.pattern as string, "u"),
            `${path}: ${node.pattern}`,
          );
      }
      for (const p of rt.admissionPolicies ?? [])
        for (const v of p.validations) assert.doesNotThrow(() => compileCel(v.expression));
    });
  }
});
