import { parseCpu, parseMemory } from "../api/quantity/index.ts";
import type { ActorTemplate, WorkerPool } from "../api/v1alpha1/index.ts";

/**
 * Whether a pool is the one the template's `spec.workerPoolRef` names (the anchor's older way
 * to pick a pool); a template without one accepts any pool. The reference's namespace defaults
 * to the template's, as a namespaced reference does in Kubernetes.
 */
export function matchesPoolRef(template: ActorTemplate, pool: WorkerPool): boolean {
  const ref = template.spec.workerPoolRef;
  if (!ref) return true;
  const namespace = ref.namespace || template.metadata.namespace || "default";
  return pool.metadata.name === ref.name && (pool.metadata.namespace ?? "default") === namespace;
}

/**
 * Whether the pool's workers can hold one of the template's actors: each of the template's
 * `spec.resources.limits` (cpu, memory) at most the pool's `spec.template.resources.limits`,
 * a pool without a limit holding any. As in the anchor, an actor occupies a whole worker, so
 * its limits are a floor on the worker's. A quantity that does not parse fits nothing: the
 * pool's own status says what is wrong with its quantities, and a template's are checked by
 * pattern at admission.
 */
export function fitsLimits(template: ActorTemplate, pool: WorkerPool): boolean {
  const want = template.spec.resources?.limits;
  if (!want) return true;
  const have = pool.spec.template?.resources?.limits ?? {};
  const fits = (parse: (field: string, value: unknown) => number, name: "cpu" | "memory") => {
    if (want[name] === undefined || have[name] === undefined) return true;
    try {
      return (
        parse(`spec.resources.limits.${name}`, want[name]) <=
        parse(`spec.template.resources.limits.${name}`, have[name])
      );
    } catch {
      return false;
    }
  };
  return fits(parseCpu, "cpu") && fits(parseMemory, "memory");
}
