// Traces (OpenTelemetry): set-up once per process, spans through the API, and the Connect
// interceptors that carry W3C traceparent across every hop. Off unless an endpoint is given.
export { traceIncoming, traceOutgoing } from "./connect.ts";
export {
  otlpEndpoint,
  redactUrl,
  startTracing,
  type Tracing,
  type TracingOptions,
  tracesUrl,
} from "./setup.ts";
export {
  type Component,
  inSpan,
  inTrace,
  type Span,
  SpanKind,
  spanFailed,
  startSpan,
  withSpan,
} from "./spans.ts";
