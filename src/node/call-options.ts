import { AteError, Code, isAteError } from "../errors/index.ts";
import type { NodeCallOptions } from "./api.ts";

/**
 * Runs one call of the node agent with its options as one signal: the caller's, aborted also
 * at the deadline (with DEADLINE_EXCEEDED, as a Connect client reports it). A call whose
 * signal is already aborted does not start.
 */
export async function withCall<T>(
  options: NodeCallOptions | undefined,
  f: (signal: AbortSignal | undefined) => Promise<T>,
): Promise<T> {
  const given = options?.signal;
  if (given?.aborted)
    throw isAteError(given.reason)
      ? given.reason
      : new AteError(Code.Canceled, "the call was cancelled before it started", [], {
          cause: given.reason,
        });
  const ms = options?.timeoutMs;
  if (ms === undefined || ms <= 0) return f(options?.signal);
  const deadline = new AbortController();
  const timer = setTimeout(
    () =>
      deadline.abort(
        new AteError(Code.DeadlineExceeded, `the call did not finish within its ${ms} ms deadline`),
      ),
    ms,
  );
  try {
    return await f(
      options?.signal ? AbortSignal.any([options.signal, deadline.signal]) : deadline.signal,
    );
  } finally {
    clearTimeout(timer);
  }
}
