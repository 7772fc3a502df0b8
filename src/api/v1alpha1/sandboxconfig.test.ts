import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { generatedManifests } from "../schema/index.ts";
import { validateResource } from "../schema/validate-resource.ts";
import { sandboxConfig, sha } from "../testing.ts";
import { resourceTypes } from "./index.ts";
import { assetUrlPattern, SandboxConfigType } from "./sandboxconfig.ts";

const withUrl = (url: string) =>
  sandboxConfig("c", { assets: { amd64: { runsc: { url, sha256: sha("a") } } } });
const errorsOf = (url: string) => validateResource(SandboxConfigType, withUrl(url)).errors;

describe("SandboxConfig asset urls", () => {
  it("accept https, http, s3, gs and file urls with what each needs", () => {
    for (const url of [
      "https://releases.example.com/gvisor/runsc",
      "http://mirror.internal:8080/runsc?v=1",
      "s3://bucket/gvisor/runsc",
      "gs://gvisor/releases/release/latest/x86_64/runsc",
      "file:///usr/bin/runsc",
    ])
      assert.deepEqual(errorsOf(url), [], url);
  });

  it("reject other schemes and urls without a host, key or path, in Kubernetes' words", () => {
    for (const url of [
      "ftp://x",
      "javascript:alert(1)",
      "runsc",
      "data:,x",
      "file://host/usr/bin/runsc",
      "file:///",
      "https://",
      "http:///runsc",
      "s3://bucket",
      "gs://bucket/",
      "https://host/a b",
    ]) {
      assert.deepEqual(
        errorsOf(url),
        [
          `spec.assets.amd64.runsc.url: Invalid value: ${JSON.stringify(url)}: spec.assets.amd64.runsc.url in body should match '${assetUrlPattern}'`,
        ],
        url,
      );
    }
  });

  it("put the pattern into the generated CRD", () => {
    const crd = parse(
      generatedManifests(resourceTypes).get("manifests/crds/ate.dev_sandboxconfigs.yaml") ?? "",
    );
    const asset =
      crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.assets
        .additionalProperties.additionalProperties;
    assert.equal(asset.properties.url.pattern, assetUrlPattern);
  });
});
