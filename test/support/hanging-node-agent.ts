// A no-op node agent whose runs can be made to hang until their signal aborts: a boot in
// progress when a shutdown (or a caller) gives up on it.
import type { NodeCallOptions, RunRequest, WorkerInfo } from "../../src/node/index.ts";
import { NoopNodeAgent } from "./noop-node-agent.ts";

export class HangingNodeAgent extends NoopNodeAgent {
  /** While true, run() hangs until its signal aborts, then fails with the abort reason. */
  hanging = false;
  /** Called when a hanging run starts. */
  started?: () => void;

  /** Resolves when the next hanging run starts. */
  nextHang(): Promise<void> {
    return new Promise((resolve) => {
      this.started = resolve;
    });
  }

  override async run(req: RunRequest, options?: NodeCallOptions): Promise<WorkerInfo> {
    if (!this.hanging) return super.run(req);
    this.started?.();
    const signal = options?.signal;
    return new Promise((_, reject) => {
      if (signal?.aborted) reject(signal.reason);
      signal?.addEventListener("abort", () => reject(signal.reason));
    });
  }
}
