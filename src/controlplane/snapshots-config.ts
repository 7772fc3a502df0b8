import type { ActorTemplate } from "../api/v1alpha1/index.ts";
import { ActorTemplateType } from "../api/v1alpha1/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import type { Actor, ActorSnapshotsConfig } from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";

/** The part of a template's spec that checkpoints of its actors need (recorded at resume). */
export function snapshotsConfigOf(template: ActorTemplate): ActorSnapshotsConfig {
  const c = template.spec.snapshotsConfig;
  return {
    location: c.location,
    ...(c.onCommit ? { onCommit: c.onCommit } : {}),
    ...(c.onPause ? { onPause: c.onPause } : {}),
  };
}

/**
 * What a checkpoint of the actor needs: recorded when it resumed. Actors resumed by older
 * versions lack it: then from the template, else from where the actor's last suspend wrote
 * (`<location>/<atespace>/<actor>/<id>`), else the fallback location. Never fails for want of
 * a template.
 */
export async function checkpointConfig(
  actor: Actor,
  resources: ResourceStore,
  fallbackLocation: string,
  logger: Logger,
): Promise<ActorSnapshotsConfig> {
  if (actor.snapshotsConfig) return actor.snapshotsConfig;
  const template = await resources
    .get(ActorTemplateType, actor.templateNamespace, actor.templateName)
    .catch((err) => {
      if (isAteError(err, Code.NotFound)) return undefined;
      throw err;
    });
  if (template) return snapshotsConfigOf(template);
  const last = actor.latestSnapshot;
  const at = last?.uri.lastIndexOf(`/${actor.atespace}/${actor.actorId}/`) ?? -1;
  const config: ActorSnapshotsConfig =
    last?.type === "EXTERNAL" && at > 0
      ? { location: last.uri.slice(0, at), onCommit: last.scope }
      : { location: fallbackLocation };
  logger.warn("the actor's template is gone; checkpointing where its snapshots go", {
    actor: `${actor.atespace}/${actor.actorId}`,
    template: `${actor.templateNamespace}/${actor.templateName}`,
    location: config.location,
  });
  return config;
}
