// One trace per activation, all in one process (as `ate up` runs): the router's `activate`
// through the Control API's ResumeActor, the control plane's resume and placement, the node
// API's Restore, to the node's restore steps and readyz, with a real node agent restoring a
// committed snapshot on a driver whose sandbox is a local HTTP server.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { type TraceBed, traceBed } from "../../test/support/trace-bed.ts";
import { startTracing, type Tracing } from "./index.ts";
import { spanTree } from "./span-tree.ts";

/** Every step of a plain (not combined) restore, and its start. */
const restoreSteps = [
  "restore.data",
  "restore.files",
  "restore.images",
  "restore.manifest",
  "restore.ready",
  "restore.record",
  "restore.runtime",
  "restore.sandbox",
  "restore.settle",
  "restore.unpack",
  "restore.volumes",
];

describe("traces of an activation in one process", () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let bed: TraceBed;
  before(async () => {
    tracing = await startTracing({ exporter });
    bed = await traceBed(["a1", "a2", "broken-1"]);
  });
  after(async () => {
    await bed.close();
    await tracing.shutdown();
  });
  afterEach(() => exporter.reset());

  it("is one trace from the router's request to the node's readyz, each span under its caller", async () => {
    const res = await fetch(`${bed.url}/actors/t/a1/hello`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok");
    const t = spanTree(exporter.getFinishedSpans());
    // Nothing else made spans meanwhile (watches, reports, heartbeats are not traced).
    const traces = new Set(t.spans.map((s) => s.spanContext().traceId));
    assert.equal(traces.size, 1, `one trace, not ${traces.size}`);

    const activate = t.one("activate");
    assert.equal(activate.kind, SpanKind.SERVER);
    assert.equal(activate.parentSpanContext, undefined, "the activation starts the trace");
    assert.equal(t.service(activate), "ate-router");
    assert.deepEqual(
      {
        actor: activate.attributes["ate.actor"],
        atespace: activate.attributes["ate.atespace"],
        frozen: activate.attributes["ate.frozen"],
      },
      { actor: "a1", atespace: "t", frozen: false },
    );

    const readyz = t.one("readyz");
    assert.deepEqual(t.ancestors(readyz), [
      "restore.ready",
      "restore",
      "ateapi.Node/Restore", // the node's SERVER span
      "ateapi.Node/Restore", // the control plane's CLIENT span
      "resume",
      "ateapi.Control/ResumeActor", // the control plane's SERVER span
      "ateapi.Control/ResumeActor", // the router's CLIENT span
      "activate",
    ]);
    const nodeServer = t.one("ateapi.Node/Restore", SpanKind.SERVER);
    assert.equal(t.parent(nodeServer), t.one("ateapi.Node/Restore", SpanKind.CLIENT));
    assert.equal(t.service(nodeServer), "ate-node");
    const cpServer = t.one("ateapi.Control/ResumeActor", SpanKind.SERVER);
    assert.equal(t.parent(cpServer), t.one("ateapi.Control/ResumeActor", SpanKind.CLIENT));
    assert.equal(t.service(cpServer), "ate-controlplane");

    const resume = t.one("resume");
    assert.deepEqual(t.children(resume), ["ateapi.Node/Restore", "resume.placement"]);
    assert.match(String(t.one("resume.placement").attributes["ate.worker"]), /^w-\d$/);
    const restore = t.one("restore");
    assert.equal(t.service(restore), "ate-node");
    assert.deepEqual(t.children(restore), restoreSteps);
    assert.deepEqual(t.children(t.one("restore.ready")), ["readyz"]);
    // Each span lies within its parent's time.
    for (const s of t.spans) {
      const p = t.parent(s);
      if (p) assert.ok(hr(s.startTime) >= hr(p.startTime) - 1, `${s.name} starts in ${p.name}`);
    }
    assert.ok(t.spans.every((s) => s.status.code !== SpanStatusCode.ERROR));
  });

  it("continues the trace of a request that carries a traceparent", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    const res = await fetch(`${bed.url}/actors/t/a2/`, {
      headers: { traceparent: `00-${traceId}-${parentId}-01` },
    });
    assert.equal(res.status, 200);
    const t = spanTree(exporter.getFinishedSpans());
    assert.ok(t.spans.length > 10);
    assert.ok(t.spans.every((s) => s.spanContext().traceId === traceId));
    assert.equal(t.one("activate").parentSpanContext?.spanId, parentId);
    assert.equal(t.one("restore.sandbox").attributes["ate.actor"], "a2");
  });

  it("records a failed activation as errors on the spans that failed, with the message", async () => {
    const res = await fetch(`${bed.url}/actors/t/broken-1/`);
    // The snapshot's manifest is missing: NOT_FOUND, answered 404.
    assert.ok(res.status >= 400, `status ${res.status}`);
    const t = spanTree(exporter.getFinishedSpans());
    const failed = t.spans.filter((s) => s.status.code === SpanStatusCode.ERROR).map((s) => s.name);
    for (const name of ["activate", "resume", "restore", "restore.manifest"])
      assert.ok(failed.includes(name), `${name} failed: ${failed}`);
    const manifest = t.one("restore.manifest");
    assert.match(manifest.status.message ?? "", /manifest|no such|not found|ENOENT/i);
    assert.ok(manifest.events.some((e) => e.name === "exception"));
    assert.equal(typeof t.one("activate").attributes["error.type"], "string");
    // Nothing after the failed step ran: no sandbox was started.
    assert.ok(!t.spans.some((s) => s.name === "restore.sandbox"));
  });
});

/** An HrTime in milliseconds. */
function hr([s, ns]: [number, number]): number {
  return s * 1000 + ns / 1e6;
}
