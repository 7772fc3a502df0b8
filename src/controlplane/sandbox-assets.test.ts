import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { validateResource } from "../api/schema/index.ts";
import { sandboxConfig, sha, workerPool } from "../api/testing.ts";
import {
  type SandboxConfig,
  SandboxConfigType,
  type WorkerPool,
  WorkerPoolType,
} from "../api/v1alpha1/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { resolveSandboxAssets, resolveSandboxConfig } from "./sandbox-assets.ts";

const microvmAssets = {
  amd64: Object.fromEntries(
    ["cloud-hypervisor", "virtiofsd", "kata-kernel", "kata-image", "kata-config"].map((n) => [
      n,
      { url: `file:///${n}`, sha256: sha("d") },
    ]),
  ),
};

const config = (name: string, spec: Record<string, unknown> = {}) =>
  validateResource(
    SandboxConfigType,
    sandboxConfig(
      name,
      spec.sandboxClass === "microvm" ? { assets: microvmAssets, ...spec } : spec,
    ),
  ).object as SandboxConfig;
const pool = (spec: Record<string, unknown> = {}) =>
  validateResource(WorkerPoolType, workerPool("pool-a", spec, "team")).object as WorkerPool;

const failsNaming =
  (...parts: string[]) =>
  (err: unknown) => {
    assert.ok(isAteError(err, Code.FailedPrecondition), String(err));
    for (const p of parts)
      assert.ok(
        (err as Error).message.includes(p),
        `"${(err as Error).message}" should mention ${p}`,
      );
    return true;
  };

describe("resolving a pool's SandboxConfig", () => {
  const configs = [
    config("gvisor-a", { default: true }),
    config("gvisor-b"),
    config("vm", { sandboxClass: "microvm", default: true }),
  ];

  it("uses the named config", () => {
    assert.equal(
      resolveSandboxConfig(pool({ sandboxConfigName: "gvisor-b" }), configs).metadata.name,
      "gvisor-b",
    );
  });

  it("uses the single default of the pool's class when none is named", () => {
    assert.equal(resolveSandboxConfig(pool(), configs).metadata.name, "gvisor-a");
    assert.equal(
      resolveSandboxConfig(pool({ sandboxClass: "microvm" }), configs).metadata.name,
      "vm",
    );
  });

  it("fails when the named config does not exist", () => {
    assert.throws(
      () => resolveSandboxConfig(pool({ sandboxConfigName: "gone" }), configs),
      failsNaming('WorkerPool "team/pool-a"', "gvisor", '"gone"', "gvisor-a, gvisor-b"),
    );
  });

  it("fails when the named config is of another class", () => {
    assert.throws(
      () => resolveSandboxConfig(pool({ sandboxConfigName: "vm" }), configs),
      failsNaming(
        'WorkerPool "team/pool-a"',
        "sandboxClass gvisor",
        '"vm"',
        "sandboxClass microvm",
      ),
    );
  });

  it("fails when the class has no default", () => {
    assert.throws(
      () =>
        resolveSandboxConfig(pool(), [
          config("gvisor-b"),
          config("vm", { sandboxClass: "microvm", default: true }),
        ]),
      failsNaming('WorkerPool "team/pool-a"', "no default", "gvisor", "gvisor-b"),
    );
    assert.throws(
      () => resolveSandboxConfig(pool(), []),
      failsNaming("no SandboxConfig has class gvisor"),
    );
  });

  it("fails when the class has several defaults, naming them", () => {
    const several = [config("gvisor-a", { default: true }), config("gvisor-c", { default: true })];
    assert.throws(
      () => resolveSandboxConfig(pool(), several),
      failsNaming('WorkerPool "team/pool-a"', "several", "gvisor-a, gvisor-c"),
    );
  });

  it("resolves from the store to the config's assets", async () => {
    const store = new SqliteResourceStore({ path: ":memory:" });
    try {
      await store.create(SandboxConfigType, sandboxConfig("gvisor-a", { default: true }));
      assert.deepEqual(await resolveSandboxAssets(store, pool()), {
        sandboxClass: "gvisor",
        configName: "gvisor-a",
        assets: { amd64: { runsc: { url: "file:///opt/runsc", sha256: sha("a") } } },
      });
    } finally {
      await store.close();
    }
  });
});
