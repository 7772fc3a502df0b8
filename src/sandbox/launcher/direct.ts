import { runCommand } from "./run-command.mjs";
import type { ShortCommand, ShortResult } from "./types.ts";

/**
 * Runs a short command from this process, as the launcher would (same code, same limits):
 * the fallback when the launcher cannot start. Each call blocks the event loop for a fork of
 * this process.
 */
export function runDirect(cmd: ShortCommand): Promise<ShortResult> {
  const { signal, ...req } = cmd;
  if (signal?.aborted) return Promise.reject(abortError());
  const { child, done } = runCommand(req);
  if (!signal) return done;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      child?.kill("SIGTERM");
      reject(abortError());
    };
    signal.addEventListener("abort", onAbort, { once: true });
    done.then((result) => {
      signal.removeEventListener("abort", onAbort);
      resolve(result);
    });
  });
}

/** What an aborted call rejects with (as node's own child_process calls do). */
export function abortError(): Error {
  return new DOMException("The operation was aborted", "AbortError");
}
