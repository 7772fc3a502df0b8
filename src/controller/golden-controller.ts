import { setTimeout as sleep } from "node:timers/promises";
import type { ActorTemplate } from "../api/v1alpha1/index.ts";
import { ActorTemplateType, SandboxConfigType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import type { Clock } from "../clock/index.ts";
import {
  type ControlPlane,
  goldenAtespace,
  type NodeDirectory,
  readSecrets,
  type SecretLookup,
  secretLookupOf,
} from "../controlplane/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import { goldenActorId } from "../node/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import { type SupportView, templateRefusal, unsupportedReasons } from "./golden-support.ts";
import type { Refusal } from "./pool-refusal.ts";

export interface GoldenControllerOptions {
  resources: ResourceStore;
  controlPlane: ControlPlane;
  /**
   * The nodes (a NodeRegistry), to fail at once a template whose sandbox class or architecture
   * no live node offers. Without it only the snapshot location is judged before a boot.
   */
  nodes?: NodeDirectory;
  clock: Clock;
  logger: Logger;
  /** Settling time for templates without readyz before the golden snapshot. Default 2000 ms. */
  warmupMs?: number;
  /**
   * How long a Failed template waits before its golden snapshot is tried again. Default 60 s.
   * One that nothing can run (see golden-support.ts) waits for a change instead: it is judged
   * again on every pass, without a boot, and goes on once a node can run it.
   */
  retryMs?: number;
  /**
   * Makes room when the golden actor's pools are full (the control plane's ActivityController,
   * which knows from every router's reports how long each actor has been idle). Without one,
   * a full pool fails the golden snapshot until it frees up.
   */
  evictor?: IdleEvictor;
  /** Where the golden boot's Secret references are read; default: the resource store. */
  secrets?: SecretLookup;
}

/**
 * The reason of a template Failed because a required Secret or key of its env is missing. Like
 * the unsupported reasons it waits for a change, not a timer: judged again on every pass (a
 * Secret's creation or change starts one), without a boot, and made once the Secret is there.
 */
export const secretNotFoundReason = "SecretNotFound";

/** Frees a worker for an actor by suspending an idle one (state kept) that holds such a worker. */
export interface IdleEvictor {
  /**
   * Suspends the least recently used idle actor on a worker that could serve the given actor;
   * false when there is none to suspend.
   */
  evictFor(atespace: string, actorId: string): Promise<boolean>;
}

/** What a GoldenController assumes when its options say nothing. */
export const goldenDefaults = { warmupMs: 2000, retryMs: 60_000 } as const;

/**
 * ActorTemplate → golden snapshot: boots a golden actor, waits until it is ready, suspends it
 * (scope Full) and records the snapshot; the template's actors then start from it (each
 * learning its own id), and those of a Data template also resume from it with their data.
 * A template nothing can run (its snapshot location, sandbox class or architecture) is Failed
 * at once, with no boot, until a node that can run it registers or the template is applied anew.
 */
export class GoldenController {
  private readonly working = new Set<string>();
  private readonly stopping = new AbortController();
  private readonly passes = new Set<Promise<void>>();
  private readonly warmupMs: number;
  private readonly retryMs: number;
  private readonly secrets: SecretLookup;

  constructor(private readonly o: GoldenControllerOptions) {
    this.warmupMs = o.warmupMs ?? goldenDefaults.warmupMs;
    this.retryMs = o.retryMs ?? goldenDefaults.retryMs;
    this.secrets = o.secrets ?? secretLookupOf(o.resources);
  }

  /** One pass over the templates; none after stop(). */
  async reconcile(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    const pass = this.pass();
    this.passes.add(pass);
    try {
      await pass;
    } finally {
      this.passes.delete(pass);
    }
  }

  /**
   * Stops making golden snapshots and resolves once no pass runs: boots under way are aborted,
   * their golden actors stopped (workers freed), their templates tried again on the next start.
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    while (this.passes.size) await Promise.allSettled([...this.passes]);
  }

  private async pass(): Promise<void> {
    const templates = (await this.o.resources.list(ActorTemplateType)).items.filter(
      (t) => t.status?.phase !== "Ready",
    );
    if (!templates.length) return;
    const view = await this.supportView();
    await Promise.all(
      templates.map(async (t) => {
        if (this.working.has(keyOf(t))) return;
        const refusal = templateRefusal(t, view) ?? (await this.secretRefusal(t));
        if (refusal) await this.refuse(t, refusal);
        else if (this.due(t)) await this.prepare(t);
      }),
    );
  }

  /** Whether a template that something can run gets its golden snapshot now. */
  private due(t: ActorTemplate): boolean {
    if (t.status?.phase !== "Failed") return true;
    const failure = t.status.conditions?.[0];
    // It failed for want of support and is supported now (a node came, or it is new): at once.
    if (unsupportedReasons.has(failure?.reason ?? "")) return true;
    if (failure?.reason === secretNotFoundReason) return true; // the Secret is there now
    // A failed golden snapshot is tried again later (the cause may have been fixed since).
    const at = Date.parse(failure?.lastTransitionTime ?? "");
    return !(at > this.o.clock.now().getTime() - this.retryMs);
  }

  /** What templateRefusal judges by: read once per pass. */
  private async supportView(): Promise<SupportView> {
    const [pools, configs, live] = await Promise.all([
      this.o.resources.list(WorkerPoolType),
      this.o.resources.list(SandboxConfigType),
      this.o.nodes?.list().catch((err: unknown) => {
        // Not judged this pass rather than no golden snapshots while the node list fails.
        this.o.logger.warn("listing nodes failed; templates not judged against them", {
          error: String(err),
        });
        return undefined;
      }),
    ]);
    // No live node at all (an `ate up` whose node registers after its controllers start, a
    // cluster whose nodes restart) is not judged: nothing is known yet, the boot waits as before.
    return { pools: pools.items, configs: configs.items, ...(live?.length ? { live } : {}) };
  }

  /**
   * Why the golden actor cannot boot for want of a Secret: its required references read now,
   * as the boot would read them. Names Secrets and keys, never a value. A store that cannot be
   * read is not a verdict: the boot then meets (and reports) the same failure.
   */
  private async secretRefusal(t: ActorTemplate): Promise<Refusal | undefined> {
    const reading = await readSecrets(t, this.secrets).catch((err: unknown) => {
      this.o.logger.warn("reading a template's Secrets failed", {
        template: keyOf(t),
        error: String(err),
      });
      return undefined;
    });
    if (!reading?.missing.length) return undefined;
    return {
      reason: secretNotFoundReason,
      message: `${reading.missing.join("; ")}: create the Secret with that key (or mark the reference optional: true); the golden snapshot is made once it exists`,
    };
  }

  /**
   * Fails a template nothing can run, with no boot. Written only when the verdict changed, so
   * a template waiting for a node costs one judgement per pass and no write.
   */
  private async refuse(t: ActorTemplate, refusal: Refusal): Promise<void> {
    const old = t.status?.conditions?.[0];
    const generation = t.metadata.generation;
    if (
      t.status?.phase === "Failed" &&
      old?.reason === refusal.reason &&
      old.message === refusal.message &&
      old.observedGeneration === generation
    )
      return;
    const condition = this.condition("Ready", "False", refusal.reason, refusal.message, t);
    // Still not Ready: the condition's transition time stays (as Kubernetes keeps it).
    if (t.status?.phase === "Failed" && old?.type === "Ready" && old.status === "False")
      condition.lastTransitionTime = old.lastTransitionTime;
    try {
      await this.setStatus(t, { ...t.status, phase: "Failed", conditions: [condition] });
      this.o.logger.warn("template cannot run; failed until what it lacks changes", {
        template: keyOf(t),
        reason: refusal.reason,
        message: refusal.message,
      });
    } catch (err) {
      // Changed or deleted meanwhile: the next pass judges it again.
      this.o.logger.info("could not mark a template failed", {
        template: keyOf(t),
        error: String(err),
      });
    }
  }

  private async prepare(template: ActorTemplate): Promise<void> {
    const ns = template.metadata.namespace ?? "default";
    const key = keyOf(template);
    if (this.working.has(key)) return;
    this.working.add(key);
    const id = goldenActorId(ns, template.metadata.name);
    const ref = { atespace: goldenAtespace, name: id };
    const cp = this.o.controlPlane;
    const stopping = this.stopping.signal;
    try {
      let current = await this.setStatus(template, {
        phase: "ResumeGoldenActor",
        goldenActorID: id,
      });
      await cp.createAtespace(goldenAtespace).catch(ignore(Code.AlreadyExists));
      await cp.createActor(ref, ns, template.metadata.name).catch(ignore(Code.AlreadyExists));
      await this.resumeGolden(ref);
      current = await this.setStatus(current, { phase: "WaitGoldenActor", goldenActorID: id });
      const hasReadyz = (template.spec.containers ?? []).some((c) => c.readyz);
      // readyz, when set, already passed during the boot
      if (!hasReadyz) await sleep(this.warmupMs, undefined, { signal: stopping });
      stopping.throwIfAborted();
      // Taken Full whatever the template's onCommit (the golden actor's resume records it so):
      // actors of a Data template resume from its memory with their own data laid in.
      const suspended = await cp.suspendActor(ref);
      const snapshot = suspended.latestSnapshot?.uri;
      if (!snapshot)
        throw new AteError(Code.Internal, "the golden actor was suspended without a snapshot");
      if (suspended.latestSnapshot?.scope !== "Full") {
        // Still usable (its actors then boot with their data), so not a failure.
        this.o.logger.warn("golden snapshot holds no memory; the template's actors boot", {
          template: key,
          snapshot,
        });
      }
      await this.setStatus(current, {
        phase: "Ready",
        goldenActorID: id,
        goldenSnapshot: snapshot,
        takeGoldenSnapshotAt: this.o.clock
          .now()
          .toISOString()
          .replace(/\.\d+Z$/, "Z"),
        conditions: [
          this.condition(
            "Ready",
            "True",
            "GoldenSnapshotTaken",
            `golden snapshot ${snapshot}`,
            template,
          ),
        ],
      });
      this.o.logger.info("golden snapshot ready", { template: key, snapshot });
    } catch (err) {
      if (stopping.aborted) {
        // Not a failure: the phase stays unfinished, so the next start makes the snapshot.
        await cp.stopActor(ref).catch(() => {});
        this.o.logger.info("golden snapshot interrupted by shutdown; made on the next start", {
          template: key,
        });
        return;
      }
      const message = (err as Error).message;
      this.o.logger.warn("golden snapshot failed", { template: key, error: message });
      const latest = await this.o.resources
        .get(ActorTemplateType, ns, template.metadata.name)
        .catch(() => undefined);
      // A Secret deleted between the pass's judgement and the boot: waits for it, not a timer.
      const refusal = latest && (await this.secretRefusal(latest));
      if (latest && refusal) {
        await this.refuse(latest, refusal);
      } else if (latest) {
        await this.setStatus(latest, {
          ...latest.status,
          phase: "Failed",
          conditions: [
            this.condition(
              "Ready",
              "False",
              "GoldenSnapshotFailed",
              message.slice(0, 30000),
              latest,
            ),
          ],
        }).catch(() => {});
      }
    } finally {
      this.working.delete(key);
    }
  }

  /**
   * Boots the golden actor. When its pools are full, an idle actor on a worker it could use is
   * suspended to make room (a few times, as a router's waiting requests may take the worker first).
   */
  private async resumeGolden(ref: { atespace: string; name: string }): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.o.controlPlane.resumeActor(ref, true, this.stopping.signal);
        return;
      } catch (err) {
        if (!isAteError(err, Code.ResourceExhausted) || !this.o.evictor || attempt >= 3) throw err;
        if (this.stopping.signal.aborted) throw err; // no eviction on the way out
        if (!(await this.o.evictor.evictFor(ref.atespace, ref.name))) throw err;
        this.o.logger.info("suspended an idle actor to make room for a golden snapshot", {
          actor: `${ref.atespace}/${ref.name}`,
        });
      }
    }
  }

  private async setStatus(
    template: ActorTemplate,
    status: NonNullable<ActorTemplate["status"]>,
  ): Promise<ActorTemplate> {
    const latest = await this.o.resources.get(
      ActorTemplateType,
      template.metadata.namespace,
      template.metadata.name,
    );
    return this.o.resources.updateStatus(ActorTemplateType, { ...latest, status });
  }

  private condition(
    type: string,
    status: "True" | "False",
    reason: string,
    message: string,
    t: ActorTemplate,
  ) {
    return {
      type,
      status,
      reason,
      message,
      lastTransitionTime: this.o.clock
        .now()
        .toISOString()
        .replace(/\.\d+Z$/, "Z"),
      ...(t.metadata.generation ? { observedGeneration: t.metadata.generation } : {}),
    };
  }
}

function keyOf(t: ActorTemplate): string {
  return `${t.metadata.namespace ?? "default"}/${t.metadata.name}`;
}

function ignore(code: Code) {
  return (err: unknown) => {
    if (!isAteError(err, code)) throw err;
  };
}
