// For the trace tests: finished spans as a tree one can ask about.
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";

export interface SpanTree {
  spans: ReadableSpan[];
  /** The one span of that name (and kind, when given); fails when there is not exactly one. */
  one(name: string, kind?: number): ReadableSpan;
  parent(s: ReadableSpan): ReadableSpan | undefined;
  /** The names of the span's ancestors, nearest first. */
  ancestors(s: ReadableSpan): string[];
  /** The names of the span's children, sorted. */
  children(s: ReadableSpan): string[];
  service(s: ReadableSpan): unknown;
}

export function spanTree(spans: ReadableSpan[]): SpanTree {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const parent = (s: ReadableSpan) => {
    const id = s.parentSpanContext?.spanId;
    return id ? byId.get(id) : undefined;
  };
  return {
    spans,
    one(name, kind) {
      const found = spans.filter((s) => s.name === name && (kind === undefined || s.kind === kind));
      if (found.length !== 1)
        throw new Error(`${found.length} spans named ${name}: ${spans.map((s) => s.name)}`);
      return found[0] as ReadableSpan;
    },
    parent,
    ancestors(s) {
      const names: string[] = [];
      for (let p = parent(s); p; p = parent(p)) names.push(p.name);
      return names;
    },
    children(s) {
      const id = s.spanContext().spanId;
      return spans
        .filter((c) => c.parentSpanContext?.spanId === id)
        .map((c) => c.name)
        .sort();
    },
    service: (s) => s.resource.attributes["service.name"],
  };
}
