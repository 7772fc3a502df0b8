import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { AteError, Code } from "../errors/index.ts";
import { inSpan } from "../tracing/index.ts";

/** One GET without connection reuse: nothing of ours stays connected to a sandbox. */
function getStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { agent: false, headers: { connection: "close" }, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Polls `http://address:port/path` until it answers 200, or fails after timeoutMs: a
 * `readyz` span (under restore.ready or run.ready) saying how many probes it took.
 */
export function waitReady(
  address: string,
  port: number,
  path: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const url = `http://${address}:${port}${path}`;
  return inSpan("node", "readyz", { "url.full": url }, async (span) => {
    const probes = await poll(url, timeoutMs, signal);
    span.setAttribute("ate.readyz.probes", probes);
  });
}

/** Probes `url` until it answers 200; how many probes that took. */
async function poll(url: string, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  let probes = 0;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    try {
      probes++;
      const status = await getStatus(url, Math.max(100, Math.min(2000, deadline - Date.now())));
      if (status === 200) return probes;
      last = `HTTP ${status}`;
    } catch (err) {
      last = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    }
    // A refused probe costs about a millisecond: poll often, as a start waits on it.
    await sleep(5);
  }
  throw new AteError(
    Code.DeadlineExceeded,
    `readyz ${url} did not answer 200 within ${timeoutMs} ms (last: ${last})`,
  );
}
