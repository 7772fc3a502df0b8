// Test clean-up: the workers (sandboxes, network namespaces) a substrate left in its node
// state, removed through a fresh agent over that state, as after any restart.
import { existsSync } from "node:fs";
import { NodeAgent } from "../../src/node/index.ts";
import type { NetworkOptions } from "../../src/sandbox/gvisor/index.ts";
import { GvisorDriver } from "../../src/sandbox/index.ts";

export async function removeLeftoverWorkers(
  nodeDir: string,
  network: NetworkOptions,
): Promise<void> {
  if (!existsSync(nodeDir)) return;
  const agent = new NodeAgent({
    stateDir: nodeDir,
    drivers: [new GvisorDriver({ stateDir: nodeDir, network })],
  });
  for (const w of await agent.recover().catch(() => []))
    await agent.deleteWorker(w.name).catch(() => {});
}
