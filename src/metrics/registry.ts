import { Registry } from "prom-client";
import { codeName, isAteError } from "../errors/index.ts";

export { Registry };

/**
 * Latency buckets, in seconds, shared by every histogram: a warm resume is tens of
 * milliseconds, a cold boot or a large snapshot upload tens of seconds.
 */
export const latencyBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * The exposition of several registries as one page (`ate up`: the control plane's, the node's
 * and the router's on the API's /metrics). Each component registers its metrics in its own
 * registry, never prom-client's global one, so that many components in one process (tests
 * start dozens) never collide; their metric names are distinct, so merging them cannot either.
 */
export async function exposition(registries: readonly Registry[]): Promise<string> {
  const unique = [...new Set(registries)];
  if (unique.length === 1) return (unique[0] as Registry).metrics();
  return Registry.merge(unique).metrics();
}

/** What serveMetrics writes to (an HTTP/1.1 or HTTP/2 compatibility response). */
export interface MetricsResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body: string): unknown;
}

/** Answers a scrape with the registries' metrics (text format 0.0.4); a failed collect is a 500. */
export function serveMetrics(registries: readonly Registry[], res: MetricsResponse): void {
  exposition(registries).then(
    (text) => {
      res.writeHead(200, { "content-type": Registry.PROMETHEUS_CONTENT_TYPE });
      res.end(text);
    },
    (err: unknown) => {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`collecting metrics failed: ${err instanceof Error ? err.message : String(err)}\n`);
    },
  );
}

/** Seconds since `started` (a performance.now() reading). */
export const secondsSince = (started: number) => (performance.now() - started) / 1000;

/**
 * Runs `run` and reports its result label and seconds to `done`, however it ends: "ok", the
 * error's code name (an AteError), else "error". One place, so every component's `result`
 * label takes the same values.
 */
export async function timed<T>(
  run: () => Promise<T>,
  done: (result: string, seconds: number) => void,
): Promise<T> {
  const started = performance.now();
  let result = "ok";
  try {
    return await run();
  } catch (err) {
    result = isAteError(err) ? codeName(err.code) : "error";
    throw err;
  } finally {
    done(result, secondsSince(started));
  }
}
