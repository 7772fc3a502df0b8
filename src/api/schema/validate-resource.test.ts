import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { actorTemplate, sandboxConfig, workerPool } from "../testing.ts";
import {
  type ActorTemplateSpec,
  ActorTemplateType,
  SandboxConfigType,
  WorkerPoolType,
} from "../v1alpha1/index.ts";
import { validateResource } from "./validate-resource.ts";

const errorsOf = (...args: Parameters<typeof validateResource>) => validateResource(...args).errors;

describe("defaults", () => {
  it("fills sandboxClass, snapshot scopes and readyz path before validating", () => {
    const t = actorTemplate("t", {
      containers: [{ name: "main", image: "a@sha256:1", readyz: { httpGet: { port: 8080 } } }],
    });
    const { object, errors } = validateResource(ActorTemplateType, t);
    assert.deepEqual(errors, []);
    const spec = object.spec as ActorTemplateSpec;
    assert.equal(spec.sandboxClass, "gvisor");
    assert.equal(spec.snapshotsConfig.onPause, "Full");
    assert.equal(spec.snapshotsConfig.onCommit, "Full");
    assert.deepEqual(spec.containers?.[0]?.readyz, {
      httpGet: { port: 8080, path: "/readyz" },
      timeoutSeconds: 30,
    });
  });

  it("does not touch the caller's object", () => {
    const t = actorTemplate("t");
    validateResource(ActorTemplateType, t);
    assert.equal((t.spec as Record<string, unknown>).sandboxClass, undefined);
  });
});

describe("strict decoding", () => {
  it("rejects unknown fields anywhere, naming each", () => {
    const t = actorTemplate("t", {
      bogus: 1,
      containers: [{ name: "main", image: "a@b", imagee: "x" }],
    });
    assert.deepEqual(errorsOf(ActorTemplateType, t), [
      'strict decoding error: unknown field "spec.containers[0].imagee", unknown field "spec.bogus"',
    ]);
  });

  it("rejects fields inside an empty-schema object such as durableDir", () => {
    const t = actorTemplate("t", { volumes: [{ name: "v", durableDir: { size: "1Gi" } }] });
    assert.match(
      errorsOf(ActorTemplateType, t)[0] ?? "",
      /unknown field "spec\.volumes\[0\]\.durableDir\.size"/,
    );
  });

  it("rejects unknown metadata fields", () => {
    const c = sandboxConfig("c");
    (c.metadata as unknown as Record<string, unknown>).labelz = {};
    assert.deepEqual(errorsOf(SandboxConfigType, c), [
      'strict decoding error: unknown field "metadata.labelz"',
    ]);
  });
});

describe("schema", () => {
  it("reports wrong types and skips CEL rules, as Kubernetes does", () => {
    const errors = errorsOf(WorkerPoolType, workerPool("p", { replicas: "2" }));
    assert.deepEqual(errors, [
      'spec.replicas: Invalid value: "2": spec.replicas in body must be of type integer: "string"',
      "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
    ]);
  });

  it("requires spec and required fields with their full paths", () => {
    const p = workerPool("p");
    delete (p.spec as Record<string, unknown>).ateomImage;
    assert.deepEqual(errorsOf(WorkerPoolType, p), ["spec.ateomImage: Required value"]);
    const { spec: _, ...noSpec } = workerPool("p");
    assert.deepEqual(errorsOf(WorkerPoolType, noSpec as never), ["spec: Required value"]);
  });

  it("checks minimum, maximum and maxItems", () => {
    assert.deepEqual(errorsOf(WorkerPoolType, workerPool("p", { replicas: -1 })), [
      "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0",
    ]);
    const t = actorTemplate("t", {
      containers: [{ name: "m", image: "a@b", readyz: { httpGet: { port: 70000 } } }],
    });
    assert.deepEqual(errorsOf(ActorTemplateType, t), [
      "spec.containers[0].readyz.httpGet.port: Invalid value: 70000: spec.containers[0].readyz.httpGet.port in body should be less than or equal to 65535",
    ]);
    const tolerations = Array.from({ length: 17 }, () => ({ operator: "Exists" }));
    assert.deepEqual(errorsOf(WorkerPoolType, workerPool("p", { template: { tolerations } })), [
      "spec.template.tolerations: Too many: 17: must have at most 16 items",
    ]);
  });

  it("validates sha256 of every asset with its map path", () => {
    const c = sandboxConfig("c", { assets: { arm64: { runsc: { url: "", sha256: "ABC" } } } });
    assert.deepEqual(errorsOf(SandboxConfigType, c), [
      'spec.assets.arm64.runsc.url: Invalid value: "": spec.assets.arm64.runsc.url in body should be at least 1 chars long',
      "spec.assets.arm64.runsc.sha256: Invalid value: \"ABC\": spec.assets.arm64.runsc.sha256 in body should match '^[a-f0-9]{64}$'",
    ]);
  });
});

describe("metadata", () => {
  it("requires a DNS subdomain name", () => {
    assert.match(
      errorsOf(SandboxConfigType, sandboxConfig("Bad_Name"))[0] ?? "",
      /^metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/,
    );
    assert.deepEqual(errorsOf(SandboxConfigType, sandboxConfig("")), [
      "metadata.name: Required value: name or generateName is required",
    ]);
  });

  it("checks label keys and values", () => {
    const p = workerPool("p");
    p.metadata.labels = { "bad key": "ok", good: "bad value" };
    const errors = errorsOf(WorkerPoolType, p);
    assert.equal(errors.length, 2);
    assert.match(
      errors[0] ?? "",
      /^metadata\.labels: Invalid value: "bad key": name part must consist/,
    );
    assert.match(
      errors[1] ?? "",
      /^metadata\.labels: Invalid value: "bad value": a valid label must be/,
    );
  });

  it("drops the namespace of cluster-scoped objects", () => {
    const c = sandboxConfig("c");
    c.metadata.namespace = "default";
    assert.equal(validateResource(SandboxConfigType, c).object.metadata.namespace, undefined);
  });
});

describe("CEL rules", () => {
  it("keeps the ActorTemplate spec immutable on update, but not on create", () => {
    const old = validateResource(ActorTemplateType, actorTemplate("t")).object;
    const changed = actorTemplate("t", { snapshotsConfig: { location: "s3://other/p" } });
    assert.deepEqual(errorsOf(ActorTemplateType, changed), []);
    assert.deepEqual(errorsOf(ActorTemplateType, changed, old), [
      'spec: Invalid value: "object": Spec is immutable',
    ]);
    assert.deepEqual(errorsOf(ActorTemplateType, actorTemplate("t"), old), []);
  });

  it("limits a container to one durableDir mount", () => {
    const t = actorTemplate("t", {
      containers: [
        {
          name: "m",
          image: "a@b",
          volumeMounts: [
            { name: "d", mountPath: "/a" },
            { name: "d", mountPath: "/b" },
          ],
        },
      ],
      volumes: [{ name: "d", durableDir: {} }],
    });
    assert.deepEqual(errorsOf(ActorTemplateType, t), [
      'spec: Invalid value: "object": A container may mount at most one DurableDir-typed volume',
    ]);
  });

  it("checks secret references", () => {
    const t = actorTemplate("t", {
      containers: [
        {
          name: "m",
          image: "a@b",
          env: [{ name: "X", valueFrom: { secretKeyRef: { name: "Bad.Name", key: "k" } } }],
        },
      ],
    });
    assert.deepEqual(errorsOf(ActorTemplateType, t), [
      'spec.containers[0].env[0].valueFrom.secretKeyRef.name: Invalid value: "string": Name must be a valid DNS subdomain',
    ]);
  });

  it("accepts every clean mount path and rejects the unclean ones", () => {
    const mount = (mountPath: string) =>
      errorsOf(
        ActorTemplateType,
        actorTemplate("t", {
          containers: [{ name: "m", image: "a@b", volumeMounts: [{ name: "d", mountPath }] }],
          volumes: [{ name: "d", durableDir: {} }],
        }),
      ).length === 0;
    for (const ok of ["/data", "/home/user/.config", "/a/..b", "/a/b.c"]) assert.ok(mount(ok), ok);
    for (const bad of [
      "",
      "/",
      "data",
      "/a/",
      "/a//b",
      "/a/./b",
      "/a/..",
      "/a:b",
      "/a\tb",
      "/a\u007fb",
    ])
      assert.ok(!mount(bad), JSON.stringify(bad));
  });
});

describe("admission policy", () => {
  it("requires runsc on every gvisor architecture", () => {
    const c = sandboxConfig("c", {
      assets: {
        amd64: { runsc: { url: "file:///r", sha256: "a".repeat(64) } },
        arm64: { shim: { url: "file:///s", sha256: "b".repeat(64) } },
      },
    });
    assert.deepEqual(errorsOf(SandboxConfigType, c), [
      "ValidatingAdmissionPolicy 'sandboxconfig-assets.ate.dev' with binding 'sandboxconfig-assets.ate.dev' denied request: a gvisor SandboxConfig must define a 'runsc' asset for every architecture under spec.assets",
    ]);
  });

  it("requires at least one architecture", () => {
    assert.equal(errorsOf(SandboxConfigType, sandboxConfig("c", { assets: {} })).length, 1);
  });

  it("does not run when schema validation already failed", () => {
    const errors = errorsOf(
      SandboxConfigType,
      sandboxConfig("c", { assets: { amd64: { shim: { url: "", sha256: "a".repeat(64) } } } }),
    );
    assert.deepEqual(errors, [
      'spec.assets.amd64.shim.url: Invalid value: "": spec.assets.amd64.shim.url in body should be at least 1 chars long',
    ]);
  });
});
