import type { Interceptor } from "@connectrpc/connect";
import {
  context,
  propagation,
  ROOT_CONTEXT,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";
import { type Component, inSpan, inTrace, SpanKind } from "./spans.ts";

const setter: TextMapSetter<Headers> = { set: (h, k, v) => h.set(k, v) };
const getter: TextMapGetter<Headers> = {
  keys: (h) => [...h.keys()],
  get: (h, k) => h.get(k) ?? undefined,
};

/** What a call's span says about it (the RPC semantic conventions' names). */
function rpcAttributes(service: string, method: string) {
  return { "rpc.system": "connect_rpc", "rpc.service": service, "rpc.method": method };
}

/**
 * For a Connect client (over the network or in process): a call made inside a trace gets a
 * CLIENT span, and the W3C `traceparent` of that span goes in its headers, so the server's
 * work joins the trace. Calls outside any trace (heartbeats, watches, activity reports) pass
 * untouched: they would each start a trace of their own that says nothing.
 */
export function traceOutgoing(component: Component): Interceptor {
  return (next) => (req) => {
    if (!inTrace()) return next(req);
    // A stream's span would end at its first answer: only the context is carried.
    if (req.stream) {
      propagation.inject(context.active(), req.header, setter);
      return next(req);
    }
    const { typeName } = req.service;
    return inSpan(
      component,
      `${typeName}/${req.method.name}`,
      rpcAttributes(typeName, req.method.name),
      async () => {
        propagation.inject(context.active(), req.header, setter);
        return await next(req);
      },
      { kind: SpanKind.CLIENT },
    );
  };
}

/**
 * For a Connect server: a call whose headers carry a `traceparent` gets a SERVER span, a child
 * of the caller's span, active while the call runs, so the spans made below it (and the
 * traceparent of the calls it makes) continue the caller's trace. A call without one runs
 * as before; what it does may still start traces of its own (a resume always does).
 */
export function traceIncoming(component: Component): Interceptor {
  return (next) => (req) => {
    const parent = propagation.extract(ROOT_CONTEXT, req.header, getter);
    if (!trace.getSpan(parent)) return next(req);
    if (req.stream) return context.with(parent, () => next(req));
    const { typeName } = req.service;
    return inSpan(
      component,
      `${typeName}/${req.method.name}`,
      rpcAttributes(typeName, req.method.name),
      () => next(req),
      { kind: SpanKind.SERVER, parent },
    );
  };
}
