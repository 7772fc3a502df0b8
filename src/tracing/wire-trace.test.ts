// The traceparent crosses real wire hops: router → control plane over HTTP (gRPC, with a
// router token) and control plane → node over the node API (gRPC over h2c). Across a socket
// nothing of the caller's async context reaches the server: the server spans exist, and sit
// under the callers' client spans, only because the header carried the trace.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { type TraceBed, traceBed } from "../../test/support/trace-bed.ts";
import { startTracing, type Tracing } from "./index.ts";
import { spanTree } from "./span-tree.ts";

describe("traces across the wire", () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let bed: TraceBed;
  before(async () => {
    tracing = await startTracing({ exporter });
    bed = await traceBed(["a1"], { nodeOverWire: true, controlOverHttp: true });
  });
  after(async () => {
    await bed.close();
    await tracing.shutdown();
  });

  it("carries traceparent router → control plane → node: each server span is its client span's child", async () => {
    const res = await fetch(`${bed.url}/actors/t/a1/`);
    assert.equal(res.status, 200);
    const t = spanTree(exporter.getFinishedSpans());
    const traces = new Set(t.spans.map((s) => s.spanContext().traceId));
    assert.equal(traces.size, 1, `one trace, not ${traces.size}`);
    for (const [method, client, server] of [
      ["ateapi.Control/ResumeActor", "ate-router", "ate-controlplane"],
      ["ateapi.Node/Restore", "ate-controlplane", "ate-node"],
    ] as const) {
      const c = t.one(method, SpanKind.CLIENT);
      const s = t.one(method, SpanKind.SERVER);
      assert.equal(t.service(c), client);
      assert.equal(t.service(s), server);
      assert.equal(s.parentSpanContext?.spanId, c.spanContext().spanId);
      assert.equal(s.parentSpanContext?.isRemote, true, `${method}: from the header`);
      assert.equal(s.attributes["rpc.method"], method.split("/")[1]);
    }
    assert.deepEqual(t.ancestors(t.one("readyz")), [
      "restore.ready",
      "restore",
      "ateapi.Node/Restore",
      "ateapi.Node/Restore",
      "resume",
      "ateapi.Control/ResumeActor",
      "ateapi.Control/ResumeActor",
      "activate",
    ]);
  });
});
