import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { ActorTemplate } from "../api/v1alpha1/index.ts";
import { ActorTemplateType } from "../api/v1alpha1/index.ts";
import type { Clock } from "../clock/index.ts";
import { type ControlPlane, goldenAtespace } from "../controlplane/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import type { ResourceStore } from "../resources/index.ts";

export interface GoldenControllerOptions {
  resources: ResourceStore;
  controlPlane: ControlPlane;
  clock: Clock;
  logger: Logger;
  /** Settling time for templates without readyz before the golden snapshot. Default 2000 ms. */
  warmupMs?: number;
  /** How long a Failed template waits before its golden snapshot is tried again. Default 60 s. */
  retryMs?: number;
}

/** The golden actor's id for a template: readable, a DNS label, unique per namespace/name. */
export function goldenActorId(namespace: string, name: string): string {
  const hash = createHash("sha256").update(`${namespace}/${name}`).digest("hex").slice(0, 8);
  return `${`${namespace}-${name}`.slice(0, 54).replace(/-+$/, "")}-${hash}`;
}

/**
 * ActorTemplate → golden snapshot: boots a golden actor, waits until it is ready, suspends it
 * and records the snapshot; the template's actors then start from it (each learning its own id).
 */
export class GoldenController {
  private readonly working = new Set<string>();

  constructor(private readonly o: GoldenControllerOptions) {}

  async reconcile(): Promise<void> {
    const templates = (await this.o.resources.list(ActorTemplateType)).items as ActorTemplate[];
    const retryAfter = this.o.retryMs ?? 60_000;
    const due = (t: ActorTemplate) => {
      const phase = t.status?.phase ?? "";
      if (phase === "Ready") return false;
      if (phase !== "Failed") return true;
      // A failed golden snapshot is tried again later (the cause may have been fixed since).
      const at = Date.parse(t.status?.conditions?.[0]?.lastTransitionTime ?? "");
      return !(at > this.o.clock.now().getTime() - retryAfter);
    };
    await Promise.all(templates.filter(due).map((t) => this.prepare(t)));
  }

  private async prepare(template: ActorTemplate): Promise<void> {
    const ns = template.metadata.namespace ?? "default";
    const key = `${ns}/${template.metadata.name}`;
    if (this.working.has(key)) return;
    this.working.add(key);
    const id = goldenActorId(ns, template.metadata.name);
    const ref = { atespace: goldenAtespace, name: id };
    const cp = this.o.controlPlane;
    try {
      let current = await this.setStatus(template, {
        phase: "ResumeGoldenActor",
        goldenActorID: id,
      });
      await cp.createAtespace(goldenAtespace).catch(ignore(Code.AlreadyExists));
      await cp.createActor(ref, ns, template.metadata.name).catch(ignore(Code.AlreadyExists));
      await cp.resumeActor(ref, true);
      current = await this.setStatus(current, { phase: "WaitGoldenActor", goldenActorID: id });
      const hasReadyz = (template.spec.containers ?? []).some((c) => c.readyz);
      if (!hasReadyz) await sleep(this.o.warmupMs ?? 2000); // readyz, when set, already passed during the boot
      const suspended = await cp.suspendActor(ref);
      const snapshot = suspended.latestSnapshot?.uri;
      if (!snapshot)
        throw new AteError(Code.Internal, "the golden actor was suspended without a snapshot");
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
      const message = (err as Error).message;
      this.o.logger.warn("golden snapshot failed", { template: key, error: message });
      const latest = (await this.o.resources
        .get(ActorTemplateType, ns, template.metadata.name)
        .catch(() => undefined)) as ActorTemplate | undefined;
      if (latest) {
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

  private async setStatus(
    template: ActorTemplate,
    status: NonNullable<ActorTemplate["status"]>,
  ): Promise<ActorTemplate> {
    const latest = (await this.o.resources.get(
      ActorTemplateType,
      template.metadata.namespace,
      template.metadata.name,
    )) as ActorTemplate;
    return (await this.o.resources.updateStatus(ActorTemplateType, {
      ...latest,
      status,
    })) as ActorTemplate;
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

function ignore(code: Code) {
  return (err: unknown) => {
    if (!isAteError(err, code)) throw err;
  };
}
