import { setTimeout as sleep } from "node:timers/promises";
import { SecretType } from "../api/v1/index.ts";
import { ActorTemplateType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { systemClock } from "../clock/index.ts";
import { GoldenController, PoolController } from "../controller/index.ts";
import {
  ActivityController,
  type ControlPlane,
  type NodeRegistry,
  runGcLoop,
} from "../controlplane/index.ts";
import type { Logger } from "../log/index.ts";
import type { Records } from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";

export interface ControllersOptions {
  resources: ResourceStore;
  records: Records;
  registry: NodeRegistry;
  controlPlane: ControlPlane;
  /** Idle time before an actor is suspended, unless its template says otherwise; 0 = never. */
  idleTimeoutMs?: number;
  /** How often a pass runs besides reacting to changes. */
  resyncMs: number;
  /** Whether a transition's owner is gone, so the reconciler takes its transitions now. */
  orphaned: (owner: string) => boolean | Promise<boolean>;
  /** Snapshot GC every intervalMs while leading (see src/controlplane/gc-loop.ts); 0: never. */
  gc?: { intervalMs: number; fallbackLocation: string };
  /** Housekeeping after each pass (forgetting control planes that are gone). */
  afterPass?: () => Promise<void>;
  logger: Logger;
}

/**
 * What only the leading control plane runs: the lost-node pass, the reconciler of interrupted
 * transitions, the WorkerPool controller, the golden-snapshot controller and the idle/eviction
 * policy, in passes when a WorkerPool, ActorTemplate or Secret changes, a node's sandbox exits
 * (`wake`), or every resyncMs.
 */
export class Controllers {
  /** Set when a pass should run now rather than at the next resync. */
  private dirty = true;
  /** Ends the wait between passes (set while the loop waits). */
  private nudge: () => void = () => {};
  private passed: () => void = () => {};
  /**
   * Resolves once this process finished a pass (it led): the transitions that runs before it
   * left (crash, kill -9) are settled then, the others' too once their owners are known gone.
   */
  readonly firstPass = new Promise<void>((resolve) => {
    this.passed = resolve;
  });

  constructor(private readonly o: ControllersOptions) {}

  /** Makes the next pass run now (or right after the one under way). */
  wake(): void {
    this.dirty = true;
    this.nudge();
  }

  /**
   * One term of leadership: runs the controllers until `signal` aborts, then resolves once
   * everything it started has finished (golden boots under way aborted and rolled back).
   */
  async lead({ signal }: { signal: AbortSignal }): Promise<void> {
    const { controlPlane, resources, records, registry, logger: log } = this.o;
    // Fresh each term: a new leader counts idle time and makes golden snapshots afresh.
    const activity = new ActivityController({
      controlPlane,
      resources,
      logger: log,
      ...(this.o.idleTimeoutMs !== undefined ? { idleTimeoutMs: this.o.idleTimeoutMs } : {}),
    });
    const pools = new PoolController({
      resources,
      records,
      nodes: registry,
      // A deleted pool's running actors are suspended before its workers go.
      actors: controlPlane,
      logger: log,
    });
    const golden = new GoldenController({
      resources,
      controlPlane,
      // A template no live node can run fails at once, before a boot.
      nodes: registry,
      clock: systemClock,
      logger: log,
      // A full pool makes room for a golden snapshot by suspending an idle actor.
      evictor: activity,
    });
    const warn = (what: string) => (err: unknown) => log.warn(what, { error: String(err) });
    const pass = async () => {
      this.dirty = false;
      await registry.declareLostNodes().catch(warn("lost-node pass failed"));
      // Interrupted transitions first: calls meet them until settled, and the pools then see
      // the workers they freed.
      await controlPlane
        .reconcile(false, signal, this.o.orphaned)
        .catch(warn("actor reconcile failed"));
      await pools.reconcile().catch(warn("pool reconcile failed"));
      await this.o.afterPass?.().catch(warn("forgetting stopped control planes failed"));
      if (!signal.aborted) this.passed();
      // Golden boots take long: they run on their own, and the term's end waits for them.
      if (!signal.aborted) void golden.reconcile().catch(warn("golden reconcile failed"));
    };
    const watchKind = async (
      type: typeof WorkerPoolType | typeof ActorTemplateType | typeof SecretType,
    ) => {
      while (!signal.aborted) {
        try {
          for await (const _ of resources.watch({ type, signal })) this.wake();
        } catch (err) {
          if (!signal.aborted)
            log.warn("watch failed; retrying", { kind: type.kind, error: String(err) });
          await sleep(1000, undefined, { signal }).catch(() => {});
        }
      }
    };
    const watches = [
      watchKind(WorkerPoolType),
      watchKind(ActorTemplateType),
      // A template waiting for a Secret (SecretNotFound) gets its golden snapshot once it exists.
      watchKind(SecretType),
      activity.run({ signal }),
    ];
    if (this.o.gc?.intervalMs)
      watches.push(
        runGcLoop(
          {
            records,
            resources,
            intervalMs: this.o.gc.intervalMs,
            fallbackLocation: this.o.gc.fallbackLocation,
            nodes: registry,
            logger: log,
            onReport: (r) =>
              controlPlane.metrics?.gcRemovedObjects("snapshot", r.removals.length, r.bytes),
          },
          signal,
        ),
      );
    let last = 0;
    while (!signal.aborted) {
      await this.idle(last + this.o.resyncMs - Date.now(), signal);
      if (signal.aborted) break;
      last = Date.now();
      await pass();
    }
    await Promise.all(watches);
    await golden.stop();
  }

  /** Waits until woken, `ms` passed, or `signal` aborted (at once when dirty already). */
  private idle(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (this.dirty || signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.nudge = () => {};
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.nudge = done;
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
