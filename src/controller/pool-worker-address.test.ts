// A node reporting worker addresses that cannot be ate's workers (its host's loopback, a
// private host, the cloud metadata service): nothing of them is recorded, so no router is
// ever sent there; the pool's workers go to the nodes that report real ones.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { workerPool } from "../api/testing.ts";
import { WorkerPoolType } from "../api/v1alpha1/index.ts";
import type { WorkerInfo } from "../node/index.ts";
import type { WorkerSettings } from "../sandbox/index.ts";
import { PoolController } from "./pool-controller.ts";
import { ExitingAgent, testCluster } from "./testing.ts";

/** A node agent that says its workers are at `address`. */
class LyingAgent extends ExitingAgent {
  constructor(private readonly address: string) {
    super();
  }
  override async createWorker(name: string, settings?: WorkerSettings): Promise<WorkerInfo> {
    return { ...(await super.createWorker(name, settings)), address: this.address };
  }
}

describe("worker addresses from nodes", () => {
  for (const address of ["127.0.0.1", "10.0.0.9", "169.254.169.254", "192.168.1.1"])
    it(`records no worker a node reports at ${address}`, async () => {
      const c = await testCluster([
        { name: "n1", entry: "10.0.0.1:7481" },
        { name: "n2", entry: "10.0.0.2:7481" },
      ]);
      try {
        c.agents.set("n2", new LyingAgent(address)); // dialled at first use, after this
        const controller = new PoolController({
          resources: c.resources,
          records: c.records,
          nodes: c.registry,
          actors: c.cp,
          logger: c.logger,
        });
        await c.resources.create(WorkerPoolType, workerPool("p", { replicas: 4 }));
        await controller.reconcile();
        const workers = await c.workersOf("p");
        assert.ok(workers.length > 0, "the honest node's are recorded");
        for (const w of workers) {
          assert.equal(w.node, "n1", `${w.name} is n1's`);
          assert.match(w.address, /^169\.254\.64\.\d+$/);
        }
        assert.ok(c.warnings.includes("creating a worker failed"), c.warnings.join("; "));
      } finally {
        await c.close();
      }
    });
});
