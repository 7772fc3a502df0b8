import type { ActorTemplate } from "../api/v1alpha1/index.ts";
import { ActorTemplateType } from "../api/v1alpha1/index.ts";
import type { ActorHooks, ControlPlane } from "../controlplane/index.ts";
import type { Actor, Worker } from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";

/** What the router needs from the control plane. */
export interface RouterBackend {
  getActor(atespace: string, actor: string): Promise<Actor>;
  resumeActor(atespace: string, actor: string): Promise<Actor>;
  suspendActor(atespace: string, actor: string): Promise<Actor>;
  /**
   * The workers, free or busy, that could run the actor (its eligible pools, the node of its
   * paused snapshot): evicting an actor from one of these makes room for it.
   */
  servingWorkers(atespace: string, actor: string): Promise<Worker[]>;
  /** The port the actor serves HTTP on, and its idle timeout (ms; 0 = never; undefined = default). */
  actorSettings(actor: Actor): Promise<{ port: number; idleTimeoutMs?: number }>;
  /** Lets the router drain before checkpoints and hear of moves. */
  setHooks(hooks: ActorHooks): void;
}

/** Annotation on an ActorTemplate: idle seconds before its actors are suspended (0 = never). */
export const idleTimeoutAnnotation = "ate.dev/idle-timeout-seconds";
/** Annotation on an ActorTemplate: the port HTTP requests go to (default: the first readyz port, else 80). */
export const httpPortAnnotation = "ate.dev/http-port";

/** The router's backend in the same process as the control plane (`ate up`). */
export class EmbeddedBackend implements RouterBackend {
  constructor(
    private readonly cp: ControlPlane,
    private readonly resources: ResourceStore,
  ) {}

  getActor(atespace: string, actor: string): Promise<Actor> {
    return this.cp.getActor({ atespace, name: actor });
  }
  resumeActor(atespace: string, actor: string): Promise<Actor> {
    return this.cp.resumeActor({ atespace, name: actor });
  }
  suspendActor(atespace: string, actor: string): Promise<Actor> {
    return this.cp.suspendActor({ atespace, name: actor });
  }
  servingWorkers(atespace: string, actor: string): Promise<Worker[]> {
    return this.cp.servingWorkers({ atespace, name: actor });
  }
  setHooks(hooks: ActorHooks): void {
    this.cp.setHooks(hooks);
  }

  async actorSettings(actor: Actor): Promise<{ port: number; idleTimeoutMs?: number }> {
    const t = (await this.resources.get(
      ActorTemplateType,
      actor.templateNamespace,
      actor.templateName,
    )) as ActorTemplate;
    const annotations = t.metadata.annotations ?? {};
    const port =
      Number(annotations[httpPortAnnotation]) ||
      t.spec.containers?.find((c) => c.readyz)?.readyz?.httpGet.port ||
      80;
    const idle = annotations[idleTimeoutAnnotation];
    return {
      port,
      ...(idle !== undefined && /^\d+$/.test(idle) ? { idleTimeoutMs: Number(idle) * 1000 } : {}),
    };
  }
}
