import { evaluateCel, toCelValue } from "./cel.ts";
import type { AdmissionPolicy } from "./resource-type.ts";
import type { JSONSchemaProps } from "./schema.ts";

export type Operation = "CREATE" | "UPDATE";

/**
 * Runs ValidatingAdmissionPolicies the way the API server does with failurePolicy Fail: an
 * expression that is false, or that cannot be evaluated, denies the request.
 */
export function admit(
  policies: readonly AdmissionPolicy[],
  schema: JSONSchemaProps,
  operation: Operation,
  object: unknown,
  oldObject: unknown,
): string[] {
  const vars = {
    object: toCelValue(object, schema),
    oldObject: oldObject === undefined ? null : toCelValue(oldObject, schema),
    request: { operation },
  };
  const denials: string[] = [];
  for (const policy of policies) {
    if (!policy.operations.includes(operation)) continue;
    if (policy.matchCondition && evaluate(policy.matchCondition, vars) !== true) continue;
    for (const v of policy.validations) {
      const result = evaluate(v.expression, vars);
      if (result === true) continue;
      const why =
        result instanceof Error
          ? `expression '${v.expression}' resulted in error: ${result.message}`
          : v.message;
      denials.push(
        `ValidatingAdmissionPolicy '${policy.name}' with binding '${policy.name}' denied request: ${why}`,
      );
    }
  }
  return denials;
}

function evaluate(expression: string, vars: Record<string, unknown>): unknown {
  try {
    return evaluateCel(expression, vars);
  } catch (err) {
    return err instanceof Error ? new Error(err.message.split("\n")[0]) : new Error(String(err));
  }
}
