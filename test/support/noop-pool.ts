// A runtime, a pool of `replicas` workers on a no-op node agent, and a "counter" template:
// what control-plane unit tests and benchmarks start from.
import { actorTemplate, sandboxConfig, workerPool } from "../../src/api/testing.ts";
import {
  ActorTemplateType,
  SandboxConfigType,
  WorkerPoolType,
} from "../../src/api/v1alpha1/index.ts";
import { PoolController } from "../../src/controller/index.ts";
import { StaticNodeDirectory } from "../../src/controlplane/index.ts";
import { silentLogger } from "../../src/log/index.ts";
import type { Records } from "../../src/records/index.ts";
import type { ResourceStore } from "../../src/resources/index.ts";
import type { NoopNodeAgent } from "./noop-node-agent.ts";

export async function declareNoopPool(
  resources: ResourceStore,
  records: Records,
  agent: NoopNodeAgent,
  o: { replicas: number; node?: string },
): Promise<void> {
  await resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
  await resources.create(WorkerPoolType, workerPool("pool", { replicas: o.replicas }));
  await resources.create(ActorTemplateType, actorTemplate("counter"));
  await new PoolController({
    resources,
    records,
    nodes: new StaticNodeDirectory({ [o.node ?? "n1"]: agent }),
    logger: silentLogger,
  }).reconcile();
}
