// A pool's worker settings (limits, egress) and requests: how they are read, how the node's
// memory and CPU are shared, and what the pool controller does with them.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { actorTemplate, sandboxConfig, workerPool } from "../api/testing.ts";
import {
  ActorTemplateType,
  SandboxConfigType,
  type WorkerPool,
  WorkerPoolType,
} from "../api/v1alpha1/index.ts";
import { PoolController } from "./pool-controller.ts";
import { poolSettings, sameSettings } from "./pool-settings.ts";
import { testNode } from "./testing.ts";

const Mi = 1024 ** 2;
const Gi = 1024 * Mi;

function pool(
  resources: Record<string, unknown> | undefined,
  annotations?: Record<string, string>,
  replicas = 2,
): WorkerPool {
  const p = workerPool("p", { replicas, ...(resources ? { template: { resources } } : {}) });
  return {
    ...p,
    metadata: { ...p.metadata, ...(annotations ? { annotations } : {}) },
  } as WorkerPool;
}

describe("a pool's worker settings", () => {
  it("come from template.resources.limits (memory, cpu) and the ate.dev/egress annotation", () => {
    assert.deepEqual(poolSettings(pool(undefined)), {
      ok: true,
      settings: {},
      requests: {
        memoryBytes: 0,
        cpuMillis: 0,
        memoryField: "spec.template.resources.requests.memory",
        cpuField: "spec.template.resources.requests.cpu",
      },
    });
    const limited = poolSettings(
      pool(
        {
          limits: { memory: "128Mi", cpu: "500m", "nvidia.com/gpu": 1, "ephemeral-storage": "1Gi" },
        },
        { "ate.dev/egress": "none" },
      ),
    );
    assert.ok(limited.ok);
    assert.deepEqual(limited.settings, {
      limits: { memoryBytes: 128 * Mi, cpuMillis: 500 },
      egress: "none",
    });
    // Limits stand in for absent requests, as in Kubernetes.
    assert.equal(limited.requests.memoryBytes, 128 * Mi);
    assert.equal(limited.requests.memoryField, "spec.template.resources.limits.memory");
    const requested = poolSettings(
      pool(
        { limits: { memory: "1Gi" }, requests: { memory: "256Mi", cpu: 0.25 } },
        { "ate.dev/egress": "default" },
      ),
    );
    assert.ok(requested.ok);
    assert.deepEqual(requested.settings, { limits: { memoryBytes: Gi } });
    assert.equal(requested.requests.memoryBytes, 256 * Mi);
    assert.equal(requested.requests.cpuMillis, 250);
    assert.equal(requested.requests.cpuField, "spec.template.resources.requests.cpu");
  });

  it("refuse what cannot be enforced, naming the field or annotation and the value", () => {
    const refusals: [WorkerPool, string, string][] = [
      [
        pool(undefined, { "ate.dev/egress": "open" }),
        "InvalidAnnotation",
        'metadata.annotations["ate.dev/egress"]: Unsupported value: "open": supported values: "default", "none"',
      ],
      [
        pool({ limits: { memory: "16Mi" } }),
        "InvalidResources",
        'spec.template.resources.limits.memory: Invalid value: "16Mi": must be at least 32Mi, the least a sandbox runs in',
      ],
      [
        pool({ limits: { cpu: "5m" } }),
        "InvalidResources",
        'spec.template.resources.limits.cpu: Invalid value: "5m": must be at least 10m, the least a sandbox runs in',
      ],
      [
        pool({ limits: { memory: "lots" } }),
        "InvalidResources",
        'spec.template.resources.limits.memory: Invalid value: "lots": must be a quantity such as 256Mi or 1G',
      ],
      [
        pool({ requests: { cpu: "-1" } }),
        "InvalidResources",
        'spec.template.resources.requests.cpu: Invalid value: "-1": must not be negative',
      ],
      [
        pool({ limits: { memory: "256Mi" }, requests: { memory: "1Gi" } }),
        "InvalidResources",
        'spec.template.resources.requests.memory: Invalid value: "1Gi": must be less than or equal to memory limit of 256Mi',
      ],
    ];
    for (const [p, reason, message] of refusals)
      assert.deepEqual(poolSettings(p), { ok: false, reason, message });
  });

  it("compare alike when absent and default", () => {
    assert.ok(sameSettings(undefined, {}));
    assert.ok(sameSettings({ egress: "default" }, undefined));
    assert.ok(!sameSettings({ egress: "none" }, undefined));
    assert.ok(!sameSettings({ limits: { memoryBytes: 1 } }, { limits: { memoryBytes: 2 } }));
    assert.ok(sameSettings({ limits: { cpuMillis: 5 } }, { limits: { cpuMillis: 5 } }));
  });
});

describe("the pool controller with settings", () => {
  let n: Awaited<ReturnType<typeof testNode>>;
  let controller: PoolController;
  const ref = (name: string) => ({ atespace: "t", name });

  beforeEach(async () => {
    n = await testNode({ memoryBytes: 2 * Gi, cpuMillis: 2000 });
    controller = new PoolController({
      resources: n.resources,
      records: n.records,
      nodes: n.registry,
      actors: n.cp,
      logger: n.logger,
    });
    await n.resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
    await n.resources.create(ActorTemplateType, actorTemplate("counter"));
  });
  afterEach(async () => {
    await n?.close();
  });

  it("creates workers with the pool's settings, kept in their records", async () => {
    await n.resources.create(WorkerPoolType, pool({ limits: { memory: "128Mi", cpu: "500m" } }));
    await controller.reconcile();
    const workers = await n.workersOf("p");
    assert.equal(workers.length, 2);
    const settings = { limits: { memoryBytes: 128 * Mi, cpuMillis: 500 } };
    for (const w of workers) {
      assert.deepEqual(w.settings, settings);
      assert.deepEqual(n.agent.settings.get(w.name), settings, "created on the node with them");
    }
    assert.deepEqual((await n.pool("p")).status, { replicas: 2 });
  });

  it("replaces free workers set up unlike their pool; a busy one keeps its settings until freed", async () => {
    await n.resources.create(WorkerPoolType, pool({ limits: { memory: "128Mi" } }));
    await controller.reconcile();
    await n.cp.createAtespace("t");
    await n.cp.createActor(ref("a"), "default", "counter");
    const busy = (await n.cp.resumeActor(ref("a"))).worker?.name;
    const before = (await n.workersOf("p")).map((w) => w.name);

    const p = await n.pool("p");
    await n.resources.update(WorkerPoolType, {
      ...p,
      metadata: { ...p.metadata, annotations: { "ate.dev/egress": "none" } },
      spec: { ...p.spec, template: { resources: { limits: { memory: "256Mi" } } } },
    });
    await controller.reconcile();
    const now = await n.workersOf("p");
    assert.equal(now.length, 2);
    const fresh = { limits: { memoryBytes: 256 * Mi }, egress: "none" };
    const kept = now.find((w) => w.name === busy);
    assert.deepEqual(kept?.settings, { limits: { memoryBytes: 128 * Mi } }, "busy: kept as it was");
    const replaced = now.find((w) => w.name !== busy);
    assert.ok(replaced && !before.includes(replaced.name), "the free one is a new worker");
    assert.deepEqual(replaced?.settings, fresh);
    assert.deepEqual(n.agent.settings.get(replaced?.name ?? ""), fresh);

    await n.cp.suspendActor(ref("a"));
    await controller.reconcile();
    const after = await n.workersOf("p");
    assert.equal(after.length, 2);
    assert.ok(!after.some((w) => w.name === busy), "freed, then replaced");
    for (const w of after) assert.deepEqual(w.settings, fresh);
    assert.equal((await n.agent.listWorkers()).length, 2, "the node holds no leftovers");
  });

  it("refuses a pool whose settings are invalid, saying why, until they are fixed", async () => {
    await n.resources.create(WorkerPoolType, pool(undefined, { "ate.dev/egress": "everything" }));
    await controller.reconcile();
    assert.equal((await n.workersOf("p")).length, 0);
    const condition = (await n.pool("p")).status?.conditions?.[0];
    assert.equal(condition?.type, "ReplicaFailure");
    assert.equal(condition?.reason, "InvalidAnnotation");
    assert.match(condition?.message ?? "", /"ate\.dev\/egress"\]: Unsupported value: "everything"/);
    assert.deepEqual(n.warnings, ["worker pool refused"]);

    const p = await n.pool("p");
    await n.resources.update(WorkerPoolType, {
      ...p,
      metadata: { ...p.metadata, annotations: { "ate.dev/egress": "none" } },
    });
    await controller.reconcile();
    assert.deepEqual((await n.pool("p")).status, { replicas: 2 });
    assert.ok((await n.workersOf("p")).every((w) => w.settings?.egress === "none"));
  });

  it("refuses a pool with a huge value in a status it can write, warning once", async () => {
    // Both pass admission (the quantity pattern takes any number of digits; annotations may
    // hold 256 KiB) and were quoted whole: the status write failed (message over 32 KiB) and
    // each pass logged 200 KB again.
    const huge: WorkerPool[] = [
      pool({ limits: { memory: "1".repeat(200_000) } }),
      pool(undefined, { "ate.dev/egress": "x".repeat(200_000) }),
    ];
    for (const p of huge) {
      await n.resources.create(WorkerPoolType, p);
      await controller.reconcile();
      await controller.reconcile();
      const condition = (await n.pool("p")).status?.conditions?.[0];
      assert.match(condition?.message ?? "", /… \(200002 characters\): /);
      assert.ok((condition?.message.length ?? 0) < 300, condition?.message);
      assert.deepEqual(n.warnings, ["worker pool refused"]);
      await n.resources.delete(WorkerPoolType, "default", "p");
      n.warnings.length = 0;
    }
  });

  it("refuses a pool whose requests the node cannot hold, leaving older pools alone", async () => {
    await n.resources.create(WorkerPoolType, {
      ...workerPool("old", {
        replicas: 2,
        template: { resources: { requests: { memory: "512Mi" } } },
      }),
      metadata: { name: "old", namespace: "default", creationTimestamp: "2026-01-01T00:00:00Z" },
    });
    await controller.reconcile();
    await n.resources.create(WorkerPoolType, pool({ limits: { memory: "512Mi" } }, undefined, 3));
    await controller.reconcile();
    assert.equal((await n.workersOf("p")).length, 0, "not one worker");
    const condition = (await n.pool("p")).status?.conditions?.[0];
    assert.equal(condition?.reason, "InsufficientNodeResources");
    assert.equal(
      condition?.message,
      "spec.replicas 3 × spec.template.resources.limits.memory 512Mi does not fit on node n1: it has 2048Mi of memory and older pools request 1Gi of it, so at most 2 such workers fit: lower spec.replicas or spec.template.resources.limits.memory, or remove other pools",
    );
    assert.deepEqual((await n.pool("old")).status, { replicas: 2 });

    const cpu = await n.pool("p");
    await n.resources.update(WorkerPoolType, {
      ...cpu,
      spec: { ...cpu.spec, replicas: 2, template: { resources: { requests: { cpu: "1500m" } } } },
    });
    await controller.reconcile();
    assert.equal(
      (await n.pool("p")).status?.conditions?.[0]?.message,
      "spec.replicas 2 × spec.template.resources.requests.cpu 1500m does not fit on node n1: it has 2 CPUs and older pools request 0 of them, so at most 1 such worker fits: lower spec.replicas or spec.template.resources.requests.cpu, or remove other pools",
    );
    const fits = await n.pool("p");
    await n.resources.update(WorkerPoolType, { ...fits, spec: { ...fits.spec, replicas: 1 } });
    await controller.reconcile();
    assert.deepEqual((await n.pool("p")).status, { replicas: 1 }, "fits now: condition gone");
  });
});
