import type { Logger } from "../../log/index.ts";
import { startTracing, type Tracing, tracesUrl } from "../../tracing/index.ts";

/**
 * `--otlp-endpoint URL` on every command that runs components (`ate up`, `ate controlplane`,
 * `ate node`, `ate router`): where their traces go.
 */
export const otlpFlag = [
  "--otlp-endpoint <url>",
  "send traces over OTLP/HTTP (protobuf) to this collector, e.g. http://127.0.0.1:4318 (spans go to <url>/v1/traces; default: OTEL_EXPORTER_OTLP_ENDPOINT; neither: no traces)",
] as const;

/** Checks the flag (or the OTEL_* variables) before anything starts: errors name the flag. */
export function checkOtlpFlag(endpoint: string | undefined): void {
  tracesUrl(endpoint);
}

/** Tracing for this process, on when an endpoint is set; shut down (flushed) after the stop. */
export async function commandTracing(
  endpoint: string | undefined,
  logger: Logger,
): Promise<Tracing> {
  const tracing = await startTracing(endpoint !== undefined ? { endpoint } : {});
  if (tracing.exportsTo) logger.info("traces on", { to: tracing.exportsTo });
  return tracing;
}
