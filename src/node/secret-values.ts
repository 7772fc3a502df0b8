import { AteError, Code } from "../errors/index.ts";
import type { ActorIdentity, SecretValue, Workload } from "./api.ts";

/**
 * The workload a Data restore boots: the manifest's Secret references (stored without values)
 * filled from the values the control plane sent with the restore. A boot reads its Secrets
 * anew, as at any cold boot: an optional reference with nothing sent stays unset, a required one
 * fails the boot naming the Secret and key (never a value).
 */
export function withSecretValues(
  workload: Workload,
  values: readonly SecretValue[] | undefined,
  actor: ActorIdentity,
): Workload {
  const byRef = new Map((values ?? []).map((v) => [refKey(v.secret, v.key), v.value]));
  return {
    ...workload,
    containers: workload.containers.map((c) =>
      c.env
        ? {
            ...c,
            env: c.env.map((e) => {
              const ref = e.secretKeyRef;
              if (!ref) return e;
              const value = byRef.get(refKey(ref.name, ref.key));
              if (value !== undefined) return { name: e.name, value, secretKeyRef: ref };
              if (ref.optional) return { name: e.name, secretKeyRef: ref };
              throw new AteError(
                Code.FailedPrecondition,
                `actor ${actor.atespace}/${actor.actorId} boots from its data: env ${e.name} of container ${c.name} needs key "${ref.key}" of Secret ${actor.templateNamespace}/${ref.name}, which is missing: create the Secret with that key, or mark the reference optional`,
              );
            }),
          }
        : c,
    ),
  };
}

function refKey(secret: string, key: string): string {
  return `${secret}\u0000${key}`;
}
