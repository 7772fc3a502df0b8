// The resources every counter scenario declares: the default gvisor runtime (this machine's
// runsc), a worker pool and counter ActorTemplates; and a wait for their golden snapshots.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Resource } from "../../src/api/schema/index.ts";
import {
  ActorTemplateType,
  SandboxConfigType,
  WorkerPoolType,
} from "../../src/api/v1alpha1/index.ts";
import type { ResourceStore } from "../../src/resources/index.ts";

export interface CounterSetup {
  image: string;
  /** Directory for external snapshots (file://). */
  snapshotsDir: string;
  replicas: number;
  poolLabels?: Record<string, string>;
  /** Template name → annotations; default one template "counter". */
  templates?: Record<string, Record<string, string>>;
  workerSelector?: Record<string, string>;
  /** Declare the gvisor runtime from /usr/bin/runsc (default); false when `ate up` did. */
  declareRuntime?: boolean;
}

export function counterTemplate(
  name: string,
  s: CounterSetup,
  annotations: Record<string, string> = {},
): Resource {
  return {
    apiVersion: "ate.dev/v1alpha1",
    kind: "ActorTemplate",
    metadata: {
      name,
      namespace: "default",
      ...(Object.keys(annotations).length ? { annotations } : {}),
    },
    spec: {
      pauseImage: s.image,
      containers: [
        {
          name: "counter",
          image: s.image,
          readyz: { httpGet: { port: 8080 } },
          volumeMounts: [{ name: "data", mountPath: "/data" }],
        },
      ],
      volumes: [{ name: "data", durableDir: {} }],
      snapshotsConfig: { location: `file://${s.snapshotsDir}` },
      ...(s.workerSelector ? { workerSelector: { matchLabels: s.workerSelector } } : {}),
    },
  };
}

export async function applyCounterSetup(store: ResourceStore, s: CounterSetup): Promise<void> {
  if (s.declareRuntime !== false) {
    const sha = createHash("sha256").update(readFileSync("/usr/bin/runsc")).digest("hex");
    await store.create(SandboxConfigType, {
      apiVersion: "ate.dev/v1alpha1",
      kind: "SandboxConfig",
      metadata: { name: "gvisor-default" },
      spec: {
        sandboxClass: "gvisor",
        default: true,
        assets: { amd64: { runsc: { url: "file:///usr/bin/runsc", sha256: sha } } },
      },
    });
  }
  await store.create(WorkerPoolType, {
    apiVersion: "ate.dev/v1alpha1",
    kind: "WorkerPool",
    metadata: {
      name: "pool",
      namespace: "default",
      ...(s.poolLabels ? { labels: s.poolLabels } : {}),
    },
    spec: { replicas: s.replicas, ateomImage: "local" },
  });
  for (const [name, annotations] of Object.entries(s.templates ?? { counter: {} })) {
    await store.create(ActorTemplateType, counterTemplate(name, s, annotations));
  }
}

/** Waits until every named template's golden snapshot is Ready; fails at once on Failed. */
export async function waitForGolden(
  store: ResourceStore,
  names: string[],
  timeoutMs = 60_000,
  context = "",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(
      names.map(
        async (n) =>
          (await store.get(ActorTemplateType, "default", n)).status as
            | { phase?: string }
            | undefined,
      ),
    );
    if (statuses.every((s) => s?.phase === "Ready")) return;
    if (statuses.some((s) => s?.phase === "Failed") || Date.now() > deadline) {
      throw new Error(
        `golden snapshots not ready: ${JSON.stringify(statuses)}${context ? `\n${context}` : ""}`,
      );
    }
    await sleep(100);
  }
}
