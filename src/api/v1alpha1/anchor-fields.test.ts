// The anchor's ActorTemplate fields from other versions of its API: accepted in the anchor's
// shapes, hostile values refused with the field named; earlier scope names stored as the scopes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { validateResource } from "../schema/validate-resource.ts";
import { actorTemplate } from "../testing.ts";
import { ActorTemplateType } from "./actortemplate.ts";

const pinned = `registry.local/app@sha256:${"c".repeat(64)}`;
const errorsOf = (spec: Record<string, unknown>) =>
  validateResource(ActorTemplateType, actorTemplate("t", spec)).errors;
const withoutPause = (spec: Record<string, unknown> = {}) => {
  const t = actorTemplate("t", spec);
  delete (t.spec as Record<string, unknown>).pauseImage;
  return validateResource(ActorTemplateType, t).errors;
};
const mounting = (volumes: unknown[], mounts: unknown[]) => ({
  containers: [{ name: "main", image: pinned, volumeMounts: mounts }],
  volumes,
});

describe("ActorTemplate: fields from other versions of the anchor's API", () => {
  it("pauseImage may be left out, and is still refused unpinned", () => {
    assert.deepEqual(withoutPause(), []);
    assert.deepEqual(errorsOf({ pauseImage: "registry.k8s.io/pause:3.10" }), [
      'spec.pauseImage: Invalid value: "string": All images must be pinned (changing the image invalidates snapshots)',
    ]);
  });

  it("homeDir is durableDir's earlier name: one source per volume, one durable volume in all", () => {
    const home = { name: "home", homeDir: {} };
    assert.deepEqual(errorsOf(mounting([home], [{ name: "home", mountPath: "/home/u" }])), []);
    assert.match(
      errorsOf({ volumes: [{ name: "v", homeDir: {}, durableDir: {} }] }).join("\n"),
      /spec\.volumes\[0\]: Invalid value: "object": exactly one of the fields in \[durableDir homeDir\] must be set/,
    );
    // Neither: the contract's message, which knows durableDir alone.
    assert.match(
      errorsOf({ volumes: [{ name: "v" }] }).join("\n"),
      /spec\.volumes\[0\]: Invalid value: "object": exactly one of the fields in \[durableDir\] must be set/,
    );
    assert.match(
      errorsOf({ volumes: [home, { name: "data", durableDir: {} }] }).join("\n"),
      /At most one DurableDir-typed volume is supported per ActorTemplate/,
    );
    assert.match(
      errorsOf({ sandboxClass: "microvm", volumes: [home] }).join("\n"),
      /DurableDir volumes are not supported when sandboxClass is 'microvm'/,
    );
  });

  it("process and homedir are Full's and Data's earlier names, in the subset rule too", () => {
    const config = (onPause: string, onCommit: string) => ({
      snapshotsConfig: { location: "file:///s", onPause, onCommit },
    });
    assert.deepEqual(errorsOf(config("process", "homedir")), []);
    assert.deepEqual(errorsOf(config("homedir", "Data")), []);
    assert.match(
      errorsOf(config("homedir", "process")).join("\n"),
      /spec\.snapshotsConfig: .*onCommit must be a subset of onPause/,
    );
    assert.equal(
      errorsOf(config("Full", "home"))[0],
      'spec.snapshotsConfig.onCommit: Unsupported value: "home": supported values: "Full", "Data"',
    );
    // Decoded: the stored template knows only the contract's names.
    const decoded = validateResource(
      ActorTemplateType,
      actorTemplate("t", config("process", "homedir")),
    );
    assert.deepEqual(decoded.errors, []);
    const stored = decoded.object.spec as { snapshotsConfig: Record<string, string> };
    assert.equal(stored.snapshotsConfig.onPause, "Full");
    assert.equal(stored.snapshotsConfig.onCommit, "Data");
  });

  it("spec.resources: limits only, with the anchor's messages", () => {
    assert.deepEqual(errorsOf({ resources: { limits: { cpu: "2", memory: "1Gi" } } }), []);
    assert.match(
      errorsOf({ resources: { requests: { cpu: "1" } } }).join("\n"),
      /spec\.resources\.requests is not supported; actors are sized by spec\.resources\.limits only/,
    );
    assert.match(
      errorsOf({ resources: { claims: [{ name: "gpu" }] } }).join("\n"),
      /spec\.resources\.claims is not supported/,
    );
    const microvm = (memory: unknown) =>
      errorsOf({ sandboxClass: "microvm", resources: { limits: { memory } } }).join("\n");
    const tooSmall =
      /spec: Invalid value: "object": For sandboxClass 'microvm', spec\.resources\.limits\.memory must be at least 256Mi/;
    assert.match(microvm("255Mi"), tooSmall);
    assert.match(microvm(268435455), tooSmall);
    assert.doesNotMatch(microvm("256Mi"), tooSmall);
    assert.doesNotMatch(microvm(268435456), tooSmall);
    assert.doesNotMatch(microvm("0.25Gi"), tooSmall);
    assert.deepEqual(
      errorsOf({ resources: { limits: { memory: "64Mi" } } }),
      [],
      "gvisor: no floor",
    );
    assert.match(
      errorsOf({ resources: { limits: { memory: "lots" } } }).join("\n"),
      /spec\.resources\.limits\.memory: Invalid value: "lots": spec\.resources\.limits\.memory in body should match/,
    );
  });

  it("containers[].ports: corev1.ContainerPort, validated as a pod's", () => {
    const ports = (p: unknown[]) => ({
      containers: [{ name: "main", image: pinned, ports: p }],
    });
    assert.deepEqual(errorsOf(ports([{ containerPort: 80, name: "http", protocol: "TCP" }])), []);
    assert.match(
      errorsOf(ports([{ containerPort: 0 }])).join("\n"),
      /spec\.containers\[0\]\.ports\[0\]\.containerPort: Invalid value: 0: .*greater than or equal to 1/,
    );
    assert.match(errorsOf(ports([{ name: "http" }])).join("\n"), /containerPort: Required value/);
    assert.match(
      errorsOf(ports([{ containerPort: 80, protocol: "HTTP" }])).join("\n"),
      /ports\[0\]\.protocol: Unsupported value: "HTTP"/,
    );
    assert.match(
      errorsOf(ports([{ containerPort: 80, name: "12--3" }])).join("\n"),
      /ports\[0\]\.name: .*must contain at least one letter and no '--'/,
    );
  });

  it("workerPoolRef: a WorkerPool by name, anything else refused naming the field", () => {
    assert.deepEqual(errorsOf({ workerPoolRef: { name: "pool", namespace: "team" } }), []);
    assert.deepEqual(errorsOf({ workerPoolRef: { namespace: "team" } }), [
      "spec.workerPoolRef.name: Required value",
    ]);
    assert.match(
      errorsOf({ workerPoolRef: { name: "p", kind: "Pod" } }).join("\n"),
      /spec\.workerPoolRef\.kind: Invalid value: .*kind must be WorkerPool/,
    );
    assert.match(
      errorsOf({ workerPoolRef: { name: "Not_A_Name" } }).join("\n"),
      /spec\.workerPoolRef\.name: .*Name must be a valid DNS subdomain/,
    );
    assert.match(
      errorsOf({ workerPoolRef: { name: "p", pool: "x" } }).join("\n"),
      /unknown field "spec\.workerPoolRef\.pool"/,
    );
  });
});
