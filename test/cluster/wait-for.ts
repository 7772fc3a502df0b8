// Polling with a deadline, for what has no event to wait on (records, listings, leases).
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Polls check until it returns something truthy (a throw counts as not yet); fails naming
 * `what`, the last error and context() after timeoutMs.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  context: () => string = () => "",
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const got = await check();
      if (got) return got;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what}: not within ${timeoutMs} ms${last ? ` (last error: ${last})` : ""}\n${context()}`,
      );
    await sleep(intervalMs);
  }
}
