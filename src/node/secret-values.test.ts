// Secret values on the node: carried to a boot, never stored (records, manifests), filled into
// a Data restore's boot from what the control plane sent, and checked at the wire.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  NodeRestoreRequestSchema,
  NodeSnapshotScope,
  NodeWorkloadSchema,
} from "../proto/gen/ateapi/node_pb.ts";
import { redactSecrets } from "../snapshots/index.ts";
import type { Workload } from "./api.ts";
import type { PulledImage } from "./images/index.ts";
import { NodeLayout } from "./layout.ts";
import { withSecretValues } from "./secret-values.ts";
import { restoreRequestFromWire } from "./wire/snapshot-convert.ts";
import { workloadFromWire, workloadToWire } from "./wire/workload-convert.ts";
import { environment } from "./workload.ts";

const actor = { atespace: "t1", templateNamespace: "prod", templateName: "app", actorId: "a1" };
const image = `registry.local/app@sha256:${"c".repeat(64)}`;

/** As a Run carries it: each Secret's value beside its reference. */
const resolved: Workload = {
  containers: [
    {
      name: "main",
      image,
      env: [
        { name: "PLAIN", value: "literal" },
        { name: "TOKEN", value: "s3cr3t", secretKeyRef: { name: "api", key: "token" } },
        { name: "EXTRA", secretKeyRef: { name: "absent", key: "x", optional: true } },
      ],
    },
  ],
  volumes: [],
};

/** As records and manifests keep it. */
const stored: Workload = {
  containers: [
    {
      name: "main",
      image,
      env: [
        { name: "PLAIN", value: "literal" },
        { name: "TOKEN", secretKeyRef: { name: "api", key: "token" } },
        { name: "EXTRA", secretKeyRef: { name: "absent", key: "x", optional: true } },
      ],
    },
  ],
  volumes: [],
};

describe("Secret values on the node", () => {
  it("are dropped from what is stored, their references kept", () => {
    assert.deepEqual(redactSecrets(resolved), stored);
    assert.doesNotMatch(JSON.stringify(redactSecrets(resolved)), /s3cr3t/);
  });

  it("are not in the actor record written to disk (root-only)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ate-secret-record-"));
    try {
      const layout = new NodeLayout(dir);
      await layout.writeRecord("w1", {
        actor,
        sandboxClass: "gvisor",
        arch: "amd64",
        assets: {},
        runtimePaths: {},
        images: { main: image },
        workload: resolved,
      });
      const path = join(dir, "workers", "w1", "actor.json");
      const text = await readFile(path, "utf8");
      assert.doesNotMatch(text, /s3cr3t/);
      assert.deepEqual(JSON.parse(text).workload, stored);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("fill a Data restore's boot from what the control plane sent", () => {
    const values = [{ secret: "api", key: "token", value: "rotated" }];
    const env = withSecretValues(stored, values, actor).containers[0]?.env;
    assert.deepEqual(env, [
      { name: "PLAIN", value: "literal" },
      { name: "TOKEN", value: "rotated", secretKeyRef: { name: "api", key: "token" } },
      { name: "EXTRA", secretKeyRef: { name: "absent", key: "x", optional: true } },
    ]);
  });

  it("refuse a Data restore's boot without a required one, naming Secret and key only", () => {
    const values = [{ secret: "other", key: "token", value: "not-this-one" }];
    assert.throws(
      () => withSecretValues(stored, values, actor),
      (err: Error) => {
        assert.equal(
          err.message,
          'actor t1/a1 boots from its data: env TOKEN of container main needs key "token" of Secret prod/api, which is missing: create the Secret with that key, or mark the reference optional',
        );
        return true;
      },
    );
  });

  it("leave a variable without a value unset (the image's own stays)", () => {
    const pulled = {
      config: { config: { Env: ["EXTRA=from-image", "PATH=/bin"] } },
    } as unknown as PulledImage;
    const c = resolved.containers[0];
    assert.ok(c);
    assert.deepEqual(environment(c, pulled), [
      "EXTRA=from-image",
      "PATH=/bin",
      "PLAIN=literal",
      "TOKEN=s3cr3t",
    ]);
  });

  it("cross the node API with references and values as they were", () => {
    const wire = fromBinary(
      NodeWorkloadSchema,
      toBinary(NodeWorkloadSchema, create(NodeWorkloadSchema, workloadToWire(resolved))),
    );
    assert.deepEqual(workloadFromWire(wire, "workload"), resolved);
  });

  it("are refused at the wire when a name is hostile, naming the field, never a value", () => {
    const bad = (env: object) =>
      create(NodeWorkloadSchema, { containers: [{ name: "main", image, env: { vars: [env] } }] });
    assert.throws(
      () => workloadFromWire(bad({ name: "A=B", value: "s3cr3t" }), "workload"),
      (err: Error) =>
        /^workload\.containers\[0\]\.env\.vars\[0\]\.name: Invalid value: "A=B"/.test(
          err.message,
        ) && !err.message.includes("s3cr3t"),
    );
    assert.throws(
      () =>
        workloadFromWire(
          bad({ name: "T", value: "s3cr3t", secretKeyRef: { name: "api", key: "../x y" } }),
          "workload",
        ),
      (err: Error) =>
        /^workload\.containers\[0\]\.env\.vars\[0\]\.secret_key_ref\.key: Invalid value/.test(
          err.message,
        ) && !err.message.includes("s3cr3t"),
    );
    // Neither value nor reference: the empty literal, as an older control plane sends "".
    assert.deepEqual(workloadFromWire(bad({ name: "T" }), "workload").containers[0]?.env, [
      { name: "T", value: "" },
    ]);
    const restore = create(NodeRestoreRequestSchema, {
      worker: "w1",
      actor,
      source: "file:///s",
      scope: NodeSnapshotScope.DATA,
      secretValues: [{ secret: "Not_A_Name", key: "token", value: "s3cr3t" }],
    });
    assert.throws(
      () => restoreRequestFromWire(restore),
      (err: Error) =>
        /^secret_values\[0\]\.secret: Invalid value: "Not_A_Name"/.test(err.message) &&
        !err.message.includes("s3cr3t"),
    );
  });
});
