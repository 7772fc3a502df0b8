import { SecretType, secretValues } from "../api/v1/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import type { SecretLookup } from "./secret-env.ts";

/**
 * Secrets as the control plane reads them for a cold boot: from the resource store, at that
 * moment. A missing Secret is undefined (the caller decides whether that fails the boot);
 * any other failure (the store unreachable) is thrown as it is.
 */
export function secretLookupOf(resources: ResourceStore): SecretLookup {
  return async (namespace, name) => {
    try {
      return secretValues(await resources.get(SecretType, namespace, name));
    } catch (err) {
      if (isAteError(err, Code.NotFound)) return undefined;
      throw err;
    }
  };
}
