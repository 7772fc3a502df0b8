// Where spans go: over OTLP/HTTP (protobuf) to the collector `--otlp-endpoint` (or the
// standard variables) names, flushed at shutdown; nowhere, at no SDK cost, when none is set.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { inSpan, inTrace, otlpEndpoint, redactUrl, startTracing, tracesUrl } from "./index.ts";

interface Received {
  method: string;
  url: string;
  type: string;
  body: Buffer;
}

describe("OTLP export", () => {
  const received: Received[] = [];
  let server: http.Server;
  let url: string;
  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({
          method: req.method ?? "",
          url: req.url ?? "",
          type: String(req.headers["content-type"]),
          body: Buffer.concat(chunks),
        });
        res.writeHead(200, { "content-type": "application/x-protobuf" });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  it("takes the flag, else OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT", () => {
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://base:4318/",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://traces:4318/custom/path",
    };
    assert.equal(tracesUrl("http://flag:4318/", env), "http://flag:4318/v1/traces");
    assert.equal(tracesUrl(undefined, env), "https://traces:4318/custom/path");
    assert.equal(
      tracesUrl(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://base:4318/" }),
      "http://base:4318/v1/traces",
    );
    assert.equal(tracesUrl(undefined, {}), undefined);
    assert.equal(tracesUrl(undefined, { ...env, OTEL_SDK_DISABLED: "true" }), undefined);
  });

  it("refuses an endpoint that is not an http(s) URL, naming the flag or variable", () => {
    for (const bad of ["ftp://x:21", "127.0.0.1:4318", "http://", "unix:///run/otel.sock"])
      assert.throws(() => otlpEndpoint(bad), /--otlp-endpoint ".*": give the OTLP/);
    assert.throws(
      () => tracesUrl(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: "grpc://x" }),
      /OTEL_EXPORTER_OTLP_ENDPOINT "grpc:\/\/x"/,
    );
  });

  it("never shows a collector's credentials; a base URL takes no query or fragment", async () => {
    // Refused: the error names the value with its user info masked.
    for (const [bad, shown] of [
      ["ftp://user:s3cret@x:21", "ftp://***@x:21"],
      ["user:s3cret@collector:4318", "***@collector:4318"],
      ["http://user:s3cret@collector:4318/?a=1", "http://***@collector:4318/?***"],
      ["http://a@b:s3cret@collector:4318/#x", "http://***@collector:4318/#x"],
    ] as const)
      assert.throws(
        () => otlpEndpoint(bad),
        (e: Error) => e.message.includes(JSON.stringify(shown)) && !e.message.includes("s3cret"),
        bad,
      );
    for (const bad of ["http://c:4318?x=1", "http://c:4318/#", "http://c:4318/?"])
      assert.throws(() => otlpEndpoint(bad), /a base URL takes no query or fragment/, bad);
    // The full traces URL is used as given, query included.
    assert.equal(
      tracesUrl(undefined, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces?t=1" }),
      "http://c:4318/v1/traces?t=1",
    );
    // What a parser drops (spaces around, a tab inside) is not passed on to the exporter.
    assert.equal(tracesUrl(" http://c:4318\t/ ", {}), "http://c:4318/v1/traces");
    assert.equal(redactUrl("http://c:4318/path@x"), "http://c:4318/path@x");
    assert.equal(redactUrl("https://c/v1/traces?token=s3cret#f"), "https://c/v1/traces?***#f");
    // Accepted with credentials (Node sends them as basic auth), shown masked.
    const tracing = await startTracing({ endpoint: "http://user:s3cret@127.0.0.1:9", env: {} });
    try {
      assert.equal(tracing.exportsTo, "http://***@127.0.0.1:9/v1/traces");
    } finally {
      await tracing.shutdown();
    }
  });

  it("is off without an endpoint: spans are no-ops and nothing is sent", async () => {
    const tracing = await startTracing({ env: {} });
    assert.equal(tracing.exportsTo, undefined);
    await inSpan("router", "activate", {}, async (span) => {
      assert.equal(span.isRecording(), false);
      assert.equal(inTrace(), false);
    });
    await tracing.shutdown();
    assert.equal(received.length, 0);
  });

  it("sends spans over OTLP/HTTP protobuf to <endpoint>/v1/traces, flushed at shutdown", async () => {
    const tracing = await startTracing({ endpoint: url, env: {} });
    assert.equal(tracing.exportsTo, `${url}/v1/traces`);
    await inSpan("router", "activate", { "ate.actor": "a1" }, async () => {
      assert.equal(inTrace(), true);
      await inSpan("node", "restore.manifest", {}, async () => {});
    });
    assert.equal(received.length, 0, "batched: not sent span by span");
    await tracing.shutdown();
    assert.equal(received.length, 1);
    const [r] = received as [Received];
    assert.equal(r.method, "POST");
    assert.equal(r.url, "/v1/traces");
    assert.equal(r.type, "application/x-protobuf");
    // Protobuf keeps strings as they are: the span names and each component's service.
    for (const text of ["activate", "restore.manifest", "ate-router", "ate-node", "a1"])
      assert.ok(r.body.includes(text), `the export holds ${text}`);
    // Shut down, the API is a no-op again.
    await inSpan("router", "activate", {}, async (span) => assert.equal(span.isRecording(), false));
  });
});
