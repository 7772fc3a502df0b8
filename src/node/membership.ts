import { setTimeout as sleep } from "node:timers/promises";
import { Code, isAteError } from "../errors/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";
import type {
  NodeAgentApi,
  NodeDescription,
  NodeRegistration,
  NodeRegistrationResult,
  NodeRegistryApi,
} from "./api.ts";

export interface NodeMembershipOptions {
  registry: NodeRegistryApi;
  /** Stops stale workers, and describes what the node has (its caches change). */
  agent: Pick<NodeAgentApi, "stop"> & { describe(): Promise<NodeDescription> };
  /** The node's own part of its registration: who it is and where it is called. */
  identity: Omit<NodeRegistration, keyof NodeDescription>;
  /** The bearer secret the control plane must present to this node's API. */
  callSecret: string;
  logger?: Logger;
  /** Wait after a failed registration or heartbeat before the next try. Default 1000 ms. */
  retryMs?: number;
}

/** The heartbeat period a control plane may ask for: never a busy loop, never silent for long. */
const minHeartbeatMs = 100;
const maxHeartbeatMs = 60_000;

/**
 * A node's membership in the cluster: registers, tears down the sandboxes of workers the
 * control plane says moved on (staleWorkers) before it calls itself ready, heartbeats as
 * often as the control plane asks, and registers again when a heartbeat is answered NOT_FOUND
 * (it was declared lost meanwhile). Failures are retried; `run` ends only when stopped.
 */
export class NodeMembership {
  private readonly log: Logger;
  private readonly retryMs: number;
  private markReady: () => void = () => {};
  /** Resolves the first time the node is registered and its stale workers are down. */
  readonly ready: Promise<void> = new Promise((resolve) => {
    this.markReady = resolve;
  });

  constructor(private readonly o: NodeMembershipOptions) {
    this.log = o.logger ?? silentLogger;
    this.retryMs = o.retryMs ?? 1000;
  }

  /** Resolves when `signal` aborts (nothing of it runs on after that). */
  async run({ signal }: { signal: AbortSignal }): Promise<void> {
    while (!signal.aborted) {
      let result: NodeRegistrationResult;
      try {
        result = await this.o.registry.register(await this.registration(), this.o.callSecret, {
          signal,
        });
        await this.tearDown(result.staleWorkers);
      } catch (err) {
        if (signal.aborted) return;
        this.log.warn("registering the node failed; retrying", { error: String(err) });
        if (!(await pause(this.retryMs, signal))) return;
        continue;
      }
      this.log.info("node registered", {
        node: this.o.identity.name,
        heartbeatMs: result.heartbeatMs,
      });
      this.markReady();
      if (!(await this.heartbeat(result, signal))) return;
    }
  }

  /** Heartbeats until told to register again (true) or stopped (false). */
  private async heartbeat(first: NodeRegistrationResult, signal: AbortSignal): Promise<boolean> {
    let wait = period(first);
    for (;;) {
      if (!(await pause(wait, signal))) return false;
      try {
        const result = await this.o.registry.heartbeat(await this.registration(), { signal });
        wait = period(result);
        await this.tearDown(result.staleWorkers);
      } catch (err) {
        if (signal.aborted) return false;
        if (isAteError(err, Code.NotFound)) {
          this.log.warn("the control plane no longer knows this node; registering again", {
            node: this.o.identity.name,
          });
          return true;
        }
        this.log.warn("a heartbeat failed; retrying", { error: String(err) });
        wait = Math.min(wait, this.retryMs);
      }
    }
  }

  private async registration(): Promise<NodeRegistration> {
    return { ...this.o.identity, ...(await this.o.agent.describe()) };
  }

  /** Stops the sandboxes of workers whose actors moved on; a worker the node lacks is done. */
  private async tearDown(workers: readonly string[]): Promise<void> {
    for (const worker of workers) {
      try {
        await this.o.agent.stop(worker);
        this.log.info("stopped a stale worker's sandbox", { worker });
      } catch (err) {
        if (!isAteError(err, Code.NotFound)) throw err;
      }
    }
  }
}

function period(r: NodeRegistrationResult): number {
  return Math.min(maxHeartbeatMs, Math.max(minHeartbeatMs, r.heartbeatMs));
}

/** Waits; false when aborted meanwhile. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
