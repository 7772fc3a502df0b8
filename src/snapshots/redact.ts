import type { Workload } from "./types.ts";

/**
 * The workload as it may be stored (node records, snapshot manifests): every value that came
 * from a Secret dropped, its reference kept. A restore needs no value (the memory holds what
 * the process read); a later cold boot reads the Secret again through the reference.
 */
export function redactSecrets(w: Workload): Workload {
  return {
    ...w,
    containers: w.containers.map((c) =>
      c.env
        ? {
            ...c,
            env: c.env.map(({ value, ...rest }) =>
              rest.secretKeyRef || value === undefined ? rest : { ...rest, value },
            ),
          }
        : c,
    ),
  };
}
