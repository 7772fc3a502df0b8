import type { IncomingHttpHeaders } from "node:http";
import { type Context, context, propagation } from "@opentelemetry/api";
import { type Span, SpanKind, spanFailed, startSpan, withSpan } from "../tracing/index.ts";

/**
 * The `activate` span of one activation: a request found its actor not running, and the
 * router resumed (or thawed) it, once for all the requests that wait. The trace starts here
 * (or continues the first request's own `traceparent`), and every ResumeActor call the
 * activation makes (again after a busy answer) is a child of it, carrying the trace to the
 * control plane. The span is opened at the first such call, dated from the request's arrival:
 * a request that only learns where its running actor is makes none. It ends when the route
 * is learned; the proxying that follows is not in it.
 */
export class Activation {
  private span: Span | undefined;
  private readonly parent: Context;
  private readonly startedAt = Date.now();

  constructor(
    private readonly actor: { atespace: string; actor: string },
    headers: IncomingHttpHeaders | undefined,
  ) {
    this.parent = headers ? propagation.extract(context.active(), headers) : context.active();
  }

  /** Runs one ResumeActor call inside the span (opened at the first); `frozen`: a thaw. */
  call<T>(frozen: boolean, f: () => Promise<T>): Promise<T> {
    this.span ??= startSpan(
      "router",
      "activate",
      { "ate.atespace": this.actor.atespace, "ate.actor": this.actor.actor },
      { kind: SpanKind.SERVER, startTime: this.startedAt, parent: this.parent },
    );
    this.span.setAttribute("ate.frozen", frozen);
    return withSpan(this.span, f, this.parent);
  }

  /** The activation is over: the route is learned, or `err` answers its requests. */
  end(err?: unknown): void {
    if (!this.span) return;
    if (err !== undefined) spanFailed(this.span, err);
    this.span.end();
    this.span = undefined;
  }
}
