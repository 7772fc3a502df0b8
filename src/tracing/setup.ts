import { context, propagation, type TracerProvider, trace } from "@opentelemetry/api";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { AteError, Code } from "../errors/index.ts";
import { ateVersion } from "../version.ts";
import type { Component } from "./spans.ts";

export interface TracingOptions {
  /**
   * `--otlp-endpoint`: the OTLP/HTTP collector's base URL (spans go to `<url>/v1/traces`).
   * Without it, the standard variables (see tracesUrl); without those, tracing is off.
   */
  endpoint?: string;
  /** Where the OTEL_* variables are read. Default process.env. */
  env?: Record<string, string | undefined>;
  /** For tests: every span goes here as it ends, whatever the endpoint and variables say. */
  exporter?: SpanExporter;
}

export interface Tracing {
  /** Where spans go: the OTLP traces URL, "exporter" (a test's), or undefined when off. */
  readonly exportsTo: string | undefined;
  /** Sends the spans not yet sent, then makes the API a no-op again (at component stop). */
  shutdown(): Promise<void>;
}

const off: Tracing = { exportsTo: undefined, shutdown: async () => {} };

/** The set-up now in force: the API's globals are one per process. */
let current: Tracing | undefined;

/**
 * The URL with any user and password in it masked: for logs and errors, which must not carry
 * the collector's credentials (Node sends `http://user:pass@host` as basic auth).
 */
export function redactUrl(value: string): string {
  // The authority's user info runs to its last "@" (a URL parser's rule), with a scheme or
  // without (`user:pass@host:4318`, refused as a URL, is still shown masked).
  // A query may carry a token too (a full traces URL is used as given): shown as `?***`.
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/?#]*@/i, "$1***@").replace(/\?[^#]*/, "?***");
}

/**
 * The `--otlp-endpoint` flag checked: an http(s) base URL, returned parsed, without trailing slashes.
 * `source` names where it came from in the error. A base URL takes no query or fragment:
 * `/v1/traces` goes after it, so `http://c/?x#y` would send spans to `/?x` (or drop the path).
 * `base: false` (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, the full URL) is used as given.
 */
export function otlpEndpoint(value: string, source = "--otlp-endpoint", base = true): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {}
  const shown = JSON.stringify(redactUrl(value).slice(0, 200));
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname)
    throw new AteError(
      Code.InvalidArgument,
      `${source} ${shown}: give the OTLP/HTTP collector's URL, http:// or https://, e.g. http://127.0.0.1:4318 (spans are sent to <url>/v1/traces)`,
    );
  if (base && /[?#]/.test(value))
    throw new AteError(
      Code.InvalidArgument,
      `${source} ${shown}: a base URL takes no query or fragment (spans are sent to <url>/v1/traces); give the full URL in OTEL_EXPORTER_OTLP_TRACES_ENDPOINT instead`,
    );
  // As parsed: the spaces, tabs and newlines a URL parser drops are not sent on to the exporter.
  return url.href.replace(/\/+$/, "");
}

/**
 * Where spans are sent, as the OpenTelemetry specification orders the sources: the flag (a
 * base URL), else OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL, used as given), else
 * OTEL_EXPORTER_OTLP_ENDPOINT (a base URL); none (or OTEL_SDK_DISABLED=true without the
 * flag): undefined, tracing off.
 */
export function tracesUrl(
  endpoint: string | undefined,
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  if (endpoint !== undefined) return `${otlpEndpoint(endpoint)}/v1/traces`;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return undefined;
  const full = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (full) return otlpEndpoint(full, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", false);
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (base) return `${otlpEndpoint(base, "OTEL_EXPORTER_OTLP_ENDPOINT")}/v1/traces`;
  return undefined;
}

/** The components whose spans this process may make; each is a service of its own. */
const components: readonly Component[] = ["router", "controlplane", "node"];

/**
 * Turns tracing on for this process when an endpoint is given (or a test's exporter), once:
 * spans batched and sent over OTLP/HTTP (protobuf), W3C trace context as the propagator, and
 * AsyncLocalStorage carrying the active span across awaits (so the router's, control plane's
 * and node's spans nest in one process too). Each component is a service of its own
 * (`ate-router`, `ate-controlplane`, `ate-node`), in `ate up` as across machines, so a trace
 * reads the same in both. Off, nothing of the SDK is even loaded: the spans made through
 * @opentelemetry/api are non-recording no-ops.
 */
export async function startTracing(o: TracingOptions = {}): Promise<Tracing> {
  const url = o.exporter ? undefined : tracesUrl(o.endpoint, o.env);
  if (!o.exporter && !url) return off;
  if (current)
    throw new AteError(
      Code.FailedPrecondition,
      `tracing is already on in this process (to ${current.exportsTo}): shut it down first`,
    );
  const [sdk, { AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, resources] =
    await Promise.all([
      import("@opentelemetry/sdk-trace-base"),
      import("@opentelemetry/context-async-hooks"),
      import("@opentelemetry/core"),
      import("@opentelemetry/resources"),
    ]);
  const { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } = await import(
    "@opentelemetry/semantic-conventions"
  );
  // One processor (one batch, one exporter) for every component's provider: shut down once.
  const processor = o.exporter
    ? new sdk.SimpleSpanProcessor(o.exporter)
    : new sdk.BatchSpanProcessor(
        new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter({ url }),
      );
  const providers = new Map(
    components.map((c) => [
      `ate.${c}`,
      new sdk.BasicTracerProvider({
        resource: resources.resourceFromAttributes({
          [ATTR_SERVICE_NAME]: `ate-${c}`,
          [ATTR_SERVICE_VERSION]: ateVersion,
        }),
        spanProcessors: [processor],
      }),
    ]),
  );
  const fallback = providers.get("ate.node") as TracerProvider;
  // Tracers are named by component (see spans.ts): each comes from its component's provider.
  const byComponent: TracerProvider = {
    getTracer: (name, version, options) =>
      (providers.get(name) ?? fallback).getTracer(name, version, options),
  };
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(byComponent);
  const tracing: Tracing = {
    // Logged ("traces on") and named in errors: never with the collector's credentials.
    exportsTo: url ? redactUrl(url) : "exporter",
    async shutdown() {
      if (current !== tracing) return;
      current = undefined;
      // Spans still open are not waited for: a component stops after its calls end.
      await Promise.all([...providers.values()].map((p) => p.shutdown().catch(() => {})));
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
  current = tracing;
  return tracing;
}
