import { AteError } from "./ate-error.ts";
import { Code } from "./code.ts";

/**
 * The error for an ate server that does not answer, saying how to get one. Here, not beside
 * the remote resource store, so the CLI's Control client uses it without loading the stores.
 */
export function serverUnreachable(server: string): AteError {
  return new AteError(
    Code.Unavailable,
    `cannot reach the ate API at ${server}: start it with \`ate up\`, or point at another with --server URL (or ATE_SERVER)`,
  );
}
