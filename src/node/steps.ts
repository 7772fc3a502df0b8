import type { Logger } from "../log/index.ts";
import { inSpan } from "../tracing/index.ts";

/** Runs f and logs `name` with its duration at debug level. */
export type Step = <T>(name: string, f: () => Promise<T>) => Promise<T>;

/**
 * Times each step of an operation in the debug log: the `checkpoint.*`, `restore.*` and
 * `run.*` lines that show where an operation's time goes. Each step is a span too, a child of
 * the operation's (steps that run at once are siblings), when tracing is on.
 */
export function timed(log: Logger, fields: Record<string, unknown>): Step {
  const attributes = Object.fromEntries(
    Object.entries(fields).flatMap(([k, v]) => (typeof v === "string" ? [[`ate.${k}`, v]] : [])),
  );
  return async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      return await inSpan("node", name, attributes, f);
    } finally {
      log.debug(name, { ...fields, ms: Math.round(performance.now() - start) });
    }
  };
}

/**
 * Independent steps run at once. Unlike Promise.all it waits for every one to settle before
 * failing, so nothing is still writing when the caller cleans up; the first failure in the
 * order given is thrown (the order says which error matters most).
 */
export async function together<T extends readonly unknown[]>(
  steps: readonly [...{ [K in keyof T]: Promise<T[K]> }],
): Promise<T> {
  const settled = await Promise.allSettled(steps);
  for (const s of settled) if (s.status === "rejected") throw s.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
