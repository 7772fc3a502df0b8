import type { ActorTemplate } from "../api/v1alpha1/index.ts";
import { AteError, Code } from "../errors/index.ts";
import type { Workload } from "../node/index.ts";

/**
 * The node agent's workload from an ActorTemplate. Secret references need a secret store,
 * which the embedded substrate does not have: optional ones are skipped, others refused.
 */
export function workloadOf(template: ActorTemplate): Workload {
  const name = `${template.metadata.namespace}/${template.metadata.name}`;
  return {
    containers: (template.spec.containers ?? []).map((c) => ({
      name: c.name,
      image: c.image,
      ...(c.command ? { command: c.command } : {}),
      ...(c.args ? { args: c.args } : {}),
      env: (c.env ?? []).flatMap((e) => {
        if (e.value !== undefined) return [{ name: e.name, value: e.value }];
        if (e.valueFrom?.secretKeyRef.optional) return [];
        throw new AteError(
          Code.FailedPrecondition,
          `ActorTemplate ${name}: env ${e.name} comes from Secret ${e.valueFrom?.secretKeyRef.name}, and this substrate has no secret store: use value, or mark the reference optional`,
        );
      }),
      ...(c.readyz
        ? {
            readyz: {
              path: c.readyz.httpGet.path,
              port: c.readyz.httpGet.port,
              timeoutSeconds: c.readyz.timeoutSeconds,
            },
          }
        : {}),
      ...(c.volumeMounts ? { volumeMounts: c.volumeMounts } : {}),
    })),
    volumes: (template.spec.volumes ?? []).map((v) => ({
      name: v.name,
      ...(v.durableDir ? { durableDir: {} } : {}),
    })),
  };
}
