import { ConnectError } from "@connectrpc/connect";
import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { type Code, codeName, isAteError } from "../errors/index.ts";

/** Which part of ate a span comes from: its instrumentation scope is `ate.<component>`. */
export type Component = "router" | "controlplane" | "node";

export type { Span };
export { SpanKind };

export interface SpanOptions {
  kind?: SpanKind;
  /** When the span began, if before now (ms since the epoch). */
  startTime?: number;
  /** The span's parent; default the active context's span. */
  parent?: Context;
}

/**
 * The tracer is looked up at each span rather than kept: a tracer taken before tracing was
 * set up (or from a set-up since shut down) would stay a no-op, or export into the void.
 * With tracing off the API answers non-recording spans: an object and a few calls each.
 */
function tracer(component: Component) {
  return trace.getTracer(`ate.${component}`);
}

/** A span not made active: the caller ends it (and runs children inside with withSpan). */
export function startSpan(
  component: Component,
  name: string,
  attributes: Attributes,
  o: SpanOptions = {},
): Span {
  return tracer(component).startSpan(
    name,
    {
      attributes,
      ...(o.kind !== undefined ? { kind: o.kind } : {}),
      ...(o.startTime !== undefined ? { startTime: o.startTime } : {}),
    },
    o.parent ?? context.active(),
  );
}

/** Runs f with `span` as the active span (its parent's context under it otherwise kept). */
export function withSpan<T>(span: Span, f: () => T, parent: Context = context.active()): T {
  return context.with(trace.setSpan(parent, span), f);
}

/**
 * Runs f inside a new span, a child of the active one, ending it when f settles; a failure is
 * recorded on it (status ERROR with the message) and thrown on.
 */
export function inSpan<T>(
  component: Component,
  name: string,
  attributes: Attributes,
  f: (span: Span) => Promise<T>,
  o: SpanOptions = {},
): Promise<T> {
  const span = startSpan(component, name, attributes, o);
  return withSpan(
    span,
    async () => {
      try {
        return await f(span);
      } catch (err) {
        spanFailed(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
    o.parent,
  );
}

/** Marks a span failed: status ERROR with the error's message, the error as an event. */
export function spanFailed(span: Span, err: unknown): void {
  if (!span.isRecording()) return;
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message.slice(0, 1000) });
  // The ate code (NOT_FOUND, UNAVAILABLE, …) is what one filters failed spans by.
  // (Connect's codes are gRPC's numbers, as ate's are.)
  const code = isAteError(err) || err instanceof ConnectError ? (err.code as Code) : undefined;
  span.setAttribute("error.type", code !== undefined ? codeName(code) : e.name);
}

/** Whether a span is active here (and recording): only then do calls join a trace. */
export function inTrace(): boolean {
  return trace.getSpan(context.active())?.isRecording() ?? false;
}
