import type { ActorTemplate } from "../api/v1alpha1/index.ts";
import type { Workload, WorkloadEnvVar } from "../node/index.ts";
import { missingSecretsError, readSecrets, type SecretLookup } from "./secret-env.ts";

/**
 * The node agent's workload from an ActorTemplate, for a cold boot: every `secretKeyRef` read
 * from the template's namespace now (never cached, so a rotated Secret reaches the next boot).
 * The value travels beside its reference; the node stores the reference alone. A missing
 * optional reference leaves the variable unset; a missing required one refuses the boot,
 * naming every missing Secret and key (FAILED_PRECONDITION), never a value.
 */
export async function workloadOf(
  template: ActorTemplate,
  secrets: SecretLookup,
): Promise<Workload> {
  const { values, missing } = await readSecrets(template, secrets);
  if (missing.length) throw missingSecretsError(template, missing);
  const secretValue = (secret: string, key: string) =>
    values.find((v) => v.secret === secret && v.key === key)?.value;
  return {
    containers: (template.spec.containers ?? []).map((c) => ({
      name: c.name,
      image: c.image,
      ...(c.command ? { command: c.command } : {}),
      ...(c.args ? { args: c.args } : {}),
      env: (c.env ?? []).map((e): WorkloadEnvVar => {
        if (!e.valueFrom) return { name: e.name, value: e.value ?? "" };
        const { name, key, optional } = e.valueFrom.secretKeyRef;
        const secretKeyRef = { name, key, ...(optional ? { optional: true } : {}) };
        const value = secretValue(name, key);
        return value === undefined
          ? { name: e.name, secretKeyRef }
          : { name: e.name, value, secretKeyRef };
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
      // homeDir is the anchor's earlier name for durableDir: the node sees one kind.
      ...(v.durableDir || v.homeDir ? { durableDir: {} } : {}),
    })),
  };
}
