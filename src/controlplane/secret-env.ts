import type { ActorTemplate } from "../api/v1alpha1/index.ts";
import { AteError, Code } from "../errors/index.ts";
import type { SecretKeyRef, SecretValue } from "../node/index.ts";

/**
 * A Secret's data, decoded (`data` and `stringData` merged as the API server does), or
 * undefined when there is no such Secret. Read at the moment of each cold boot, never cached:
 * a rotated Secret reaches the next boot.
 */
export type SecretLookup = (
  namespace: string,
  name: string,
) => Promise<Readonly<Record<string, string>> | undefined>;

/** One `valueFrom.secretKeyRef` of a template, where it is used. */
interface SecretUse {
  container: string;
  env: string;
  ref: SecretKeyRef;
}

/** What a template's Secret references read now. */
export interface SecretReading {
  /** (secret, key) → value, for every reference that resolved. */
  values: SecretValue[];
  /** Required references that did not: each names where, the Secret and the key (no value). */
  missing: string[];
}

/** Every Secret reference of the template's containers. */
function usesOf(template: ActorTemplate): SecretUse[] {
  return (template.spec.containers ?? []).flatMap((c) =>
    (c.env ?? []).flatMap((e) =>
      e.valueFrom
        ? [
            {
              container: c.name,
              env: e.name,
              ref: {
                name: e.valueFrom.secretKeyRef.name,
                key: e.valueFrom.secretKeyRef.key,
                ...(e.valueFrom.secretKeyRef.optional ? { optional: true } : {}),
              },
            },
          ]
        : [],
    ),
  );
}

/**
 * Reads the template's Secret references in its namespace, each Secret once. A missing optional
 * one is simply absent from `values`; a missing required one is listed in `missing`.
 */
export async function readSecrets(
  template: ActorTemplate,
  lookup: SecretLookup,
): Promise<SecretReading> {
  const ns = template.metadata.namespace ?? "default";
  const uses = usesOf(template);
  const names = [...new Set(uses.map((u) => u.ref.name))];
  const secrets = new Map(
    await Promise.all(names.map(async (n) => [n, await lookup(ns, n)] as const)),
  );
  const values = new Map<string, SecretValue>();
  const missing: string[] = [];
  for (const { container, env, ref } of uses) {
    const data = secrets.get(ref.name);
    const value = data && Object.hasOwn(data, ref.key) ? data[ref.key] : undefined;
    if (value !== undefined) {
      values.set(`${ref.name}\u0000${ref.key}`, { secret: ref.name, key: ref.key, value });
    } else if (!ref.optional) {
      const why = data ? `has no key "${ref.key}"` : "does not exist";
      missing.push(
        `env ${env} of container ${container} needs key "${ref.key}" of Secret ${ns}/${ref.name}, which ${why}`,
      );
    }
  }
  return { values: [...values.values()], missing };
}

/** The boot's refusal when a required reference is missing; names Secrets and keys only. */
export function missingSecretsError(template: ActorTemplate, missing: string[]): AteError {
  const name = `${template.metadata.namespace ?? "default"}/${template.metadata.name}`;
  return new AteError(
    Code.FailedPrecondition,
    `ActorTemplate ${name} cannot boot: ${missing.join("; ")}: create the Secret with that key (or mark the reference optional: true)`,
  );
}
