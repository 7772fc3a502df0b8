import { ControlPlaneMetrics } from "../metrics/index.ts";
import type { Actor } from "../records/index.ts";
import { inSpan } from "../tracing/index.ts";
import { checkpointActor } from "./checkpoint.ts";
import { freezeActor } from "./freeze.ts";
import { resumeActor } from "./resume.ts";
import { stopActor } from "./stop-actor.ts";
import type { LifecycleDeps } from "./transitions.ts";

export { type ActorHooks, type LifecycleDeps, noHooks } from "./transitions.ts";

/**
 * The actor lifecycle: every transition is taken by a compare-and-set that marks the actor
 * (with an expiry), so two calls never run at once; steps are written so that a crash at any
 * point leaves records the reconciler can finish or roll back. Each transition lives in its
 * own file (resume.ts, checkpoint.ts, stop-actor.ts); the node is reached only through the
 * NodeAgentApi the NodeDirectory gives.
 */
export class Lifecycle {
  /** `metrics` counts and times every transition (default: a registry no one serves). */
  constructor(
    private readonly d: LifecycleDeps,
    private readonly metrics: ControlPlaneMetrics = new ControlPlaneMetrics(),
  ) {}

  resume(
    atespace: string,
    actorId: string,
    options: { boot?: boolean; signal?: AbortSignal } = {},
  ): Promise<Actor> {
    return traced("resume", atespace, actorId, () =>
      this.metrics.transition("resume", () => resumeActor(this.d, atespace, actorId, options)),
    );
  }

  /** Suspend (external snapshot, scope onCommit) or Pause (snapshot kept on the node, scope onPause). */
  checkpoint(
    atespace: string,
    actorId: string,
    kind: "suspend" | "pause",
    signal?: AbortSignal,
  ): Promise<Actor> {
    return traced(kind, atespace, actorId, () =>
      this.metrics.transition(kind, () => checkpointActor(this.d, atespace, actorId, kind, signal)),
    );
  }

  /** Freezes a RUNNING actor in place (the frozen tier); a request thaws it (resume). */
  freeze(atespace: string, actorId: string): Promise<Actor> {
    return traced("freeze", atespace, actorId, () =>
      this.metrics.transition("freeze", () => freezeActor(this.d, atespace, actorId)),
    );
  }

  /** Stops an actor without a checkpoint; it goes back to its last committed snapshot. */
  stop(atespace: string, actorId: string): Promise<Actor> {
    return traced("stop", atespace, actorId, () =>
      this.metrics.transition("stop", () => stopActor(this.d, atespace, actorId)),
    );
  }
}

/**
 * Each transition is a span (a child of the caller's, e.g. a router's activation, or a trace
 * of its own): its node call and the node's steps nest under it.
 */
function traced(
  kind: string,
  atespace: string,
  actorId: string,
  run: () => Promise<Actor>,
): Promise<Actor> {
  return inSpan(
    "controlplane",
    kind,
    { "ate.atespace": atespace, "ate.actor": actorId },
    async (span) => {
      const actor = await run();
      span.setAttribute("ate.status", actor.status);
      if (actor.worker)
        span.setAttributes({ "ate.worker": actor.worker.name, "ate.node": actor.worker.node });
      return actor;
    },
  );
}
