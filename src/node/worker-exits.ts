import { AteError, Code } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import type { SandboxExit, WorkerRef } from "../sandbox/index.ts";
import type { WorkerInfo, Workload } from "./api.ts";
import type { NodeLayout } from "./layout.ts";
import type { NodeWorkers } from "./node-workers.ts";
import { waitReady } from "./readiness.ts";

/** A sandbox start under way: its signal ends when the sandbox stops before it is ready. */
export interface Start {
  signal: AbortSignal;
  /** Waits for each container's readyz, failing at once if the sandbox stops meanwhile. */
  ready(address: string, workload: Workload): Promise<void>;
  done(): void;
}

/**
 * What the agent does when a sandbox stops on its own (the driver's onExit): during a start,
 * that start fails (and cleans up) with the reason; otherwise the worker is freed (its record
 * wiped), the exit kept as the worker's lastExit and `onWorkerExit` told, so the control plane
 * sends the actor back to its last snapshot.
 */
export class WorkerExits {
  private readonly starts = new Map<string, AbortController>();

  constructor(
    private readonly workers: NodeWorkers,
    private readonly layout: NodeLayout,
    private readonly log: Logger,
    private readonly onWorkerExit?: (worker: WorkerInfo) => void,
  ) {}

  start(worker: string, signal?: AbortSignal): Start {
    const stopped = new AbortController();
    this.starts.set(worker, stopped);
    const both = signal ? AbortSignal.any([signal, stopped.signal]) : stopped.signal;
    return {
      signal: both,
      // Every container's readyz at once (they share the sandbox's address, each on its own
      // port): the actor is ready when all are; the first that fails names its container.
      ready: async (address, workload) => {
        const several = workload.containers.length > 1;
        await Promise.all(
          workload.containers.map(async (c) => {
            if (!c.readyz) return;
            const timeoutMs = (c.readyz.timeoutSeconds ?? 30) * 1000;
            await waitReady(address, c.readyz.port, c.readyz.path, timeoutMs, both).catch((err) => {
              if (!several) throw err;
              const e = AteError.from(err, Code.Internal);
              throw new AteError(e.code, `container ${c.name}: ${e.message}`, e.details, {
                cause: err,
              });
            });
          }),
        );
      },
      done: () => {
        if (this.starts.get(worker) === stopped) this.starts.delete(worker);
      },
    };
  }

  /** The driver's exit listener. */
  handle(ref: WorkerRef, exit: SandboxExit): void {
    const start = this.starts.get(ref.name);
    if (start) {
      start.abort(
        new AteError(
          Code.FailedPrecondition,
          `the sandbox stopped while starting: ${exit.message}`,
        ),
      );
      return;
    }
    this.free(ref.name, exit).catch((err) =>
      this.log.error("recording a sandbox exit failed", {
        worker: ref.name,
        error: (err as Error).message,
      }),
    );
  }

  private async free(name: string, exit: SandboxExit): Promise<void> {
    const worker = this.workers.find(name);
    const record = await this.layout.readRecord(name);
    // Gone or emptied meanwhile (a stop or checkpoint is never reported by the driver).
    if (!worker || !record) return;
    await this.layout.wipe(name);
    const info = await this.workers.recordExit(worker, { ...exit, actor: record.actor });
    this.log.warn("an actor's sandbox stopped on its own; the worker is free", {
      worker: name,
      actor: `${record.actor.atespace}/${record.actor.actorId}`,
      reason: exit.reason,
      message: exit.message,
    });
    this.onWorkerExit?.(info);
  }
}
