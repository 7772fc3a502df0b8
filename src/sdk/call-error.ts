// What a failed call to an ate server means: the server's own error, that the call was
// canceled, or that the server cannot be reached. Shared by the SDK and the CLI.
import { AteError, Code, serverUnreachable } from "../errors/index.ts";

const unreachable =
  /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|ETIMEDOUT|EAI_AGAIN|socket hang up/;

/** The AteError for a call that `signal` aborted. */
export function canceled(signal: AbortSignal): AteError {
  const reason = signal.reason as unknown;
  const why = reason instanceof Error && reason.name !== "AbortError" ? `: ${reason.message}` : "";
  return new AteError(Code.Canceled, `the call was canceled${why}`, [], { cause: reason });
}

/**
 * A failed call as an AteError. `other` turns any error but an unreachable server into one:
 * the unary client passes one that knows Connect's errors (their code and the server's
 * message). A call whose `signal` aborted is Canceled, whatever it failed with.
 */
export function fromCallError(
  err: unknown,
  server: string,
  other: (err: unknown) => AteError = AteError.from,
  signal?: AbortSignal,
): AteError {
  if (signal?.aborted) return canceled(signal);
  if (err instanceof AteError) return err;
  const text = `${(err as Error)?.message ?? err} ${(err as { cause?: Error })?.cause?.message ?? ""}`;
  if (unreachable.test(text) || (err as { code?: string })?.code === "ECONNREFUSED") {
    return serverUnreachable(server);
  }
  return other(err);
}
