import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Resource, validateResource } from "../schema/index.ts";
import { decodeStdBase64, IllegalBase64 } from "./base64.ts";
import { isConfigMapKey, NamespaceType, SecretType, secretValues } from "./index.ts";

const hidden = "TOP-SECRET-VALUE";
const secret = (fields: Record<string, unknown>): Resource =>
  ({ apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, ...fields }) as unknown as Resource;
const errorsOf = (fields: Record<string, unknown>, old?: Record<string, unknown>) =>
  validateResource(SecretType, secret(fields), old ? secret(old) : undefined).errors;

describe("v1 Secret validation", () => {
  it("decodes base64 as Go's StdEncoding does, reporting the offset Go reports", () => {
    const cases: [string, number | string][] = [
      ["aGVsbG8=", "hello"],
      ["aGVs\nbG8=\r\n", "hello"],
      ["", ""],
      ["abc", 0],
      ["YQ", 0],
      ["YWJjZA", 4],
      ["YQ=", 3],
      ["YQ=x", 2],
      ["YQ==x", 4],
      ["Y===", 1],
      ["=", 0],
      ["a b", 1],
      ["aGVsbG8-", 7],
    ];
    for (const [text, want] of cases) {
      const got = decodeStdBase64(text);
      if (typeof want === "string") assert.equal(got.toString(), want, JSON.stringify(text));
      else {
        assert.ok(got instanceof IllegalBase64, JSON.stringify(text));
        assert.equal(got.offset, want, JSON.stringify(text));
      }
    }
  });

  it("merges stringData over data, re-encodes data canonically and drops stringData", () => {
    const { object, errors } = validateResource(
      SecretType,
      secret({ data: { a: "YQ==\n", b: "Yg==" }, stringData: { b: "B", c: "ç" } }),
    );
    assert.deepEqual(errors, []);
    const out = object as unknown as Record<string, unknown>;
    assert.equal(out.stringData, undefined);
    assert.equal(out.type, "Opaque");
    assert.deepEqual(secretValues(object), { a: "a", b: "B", c: "ç" });
  });

  it("refuses odd and deep JSON in data and stringData with the decoder's words, never the value", () => {
    const deep: Record<string, unknown> = {};
    let at = deep;
    for (let i = 0; i < 50; i++) at = at.x = { secret: hidden } as Record<string, unknown>;
    const cases: [Record<string, unknown>, string][] = [
      [
        { data: [hidden] },
        "cannot unmarshal array into Go struct field Secret.data of type map[string][]uint8",
      ],
      [
        { data: hidden },
        "cannot unmarshal string into Go struct field Secret.data of type map[string][]uint8",
      ],
      [
        { data: { k: 7 } },
        "cannot unmarshal number into Go struct field Secret.data of type []uint8",
      ],
      [
        { data: { k: deep } },
        "cannot unmarshal object into Go struct field Secret.data of type []uint8",
      ],
      [{ data: { k: `${hidden}!` } }, "illegal base64 data at input byte 3"],
      [
        { stringData: { k: true } },
        "cannot unmarshal bool into Go struct field Secret.stringData of type string",
      ],
      [
        { stringData: { k: { v: hidden } } },
        "cannot unmarshal object into Go struct field Secret.stringData of type string",
      ],
    ];
    for (const [fields, message] of cases) {
      const errors = errorsOf(fields);
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.equal(
        errors[0],
        `Secret in version "v1" cannot be handled as a Secret: json: ${message}`.replace(
          "json: illegal",
          "illegal",
        ),
      );
      assert.doesNotMatch(errors.join("\n"), new RegExp(hidden));
    }
    assert.deepEqual(errorsOf({ data: { k: null } }), [], "null is an empty value, as in Go");
  });

  it("checks keys as config keys, and the total size of the values", () => {
    assert.deepEqual(isConfigMapKey("ok.KEY_name-1"), []);
    for (const key of ["", "a b", "a/b", ".", "..", "..x", "x".repeat(254)])
      assert.notDeepEqual(isConfigMapKey(key), [], JSON.stringify(key));
    const errors = errorsOf({ stringData: { "a/b": hidden, "..x": hidden } });
    assert.deepEqual(errors, [
      "data[a/b]: Invalid value: \"a/b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
      "data[..x]: Invalid value: \"..x\": must not start with '..'",
    ]);
    const mib = 1024 * 1024;
    assert.deepEqual(errorsOf({ stringData: { a: "x".repeat(mib - 1), b: "y" } }), []);
    assert.deepEqual(errorsOf({ stringData: { a: "x".repeat(mib), b: "y" } }), [
      "data: Too long: may not be more than 1048576 bytes",
    ]);
  });

  it("requires the keys each well-known type needs, redacting contents", () => {
    assert.deepEqual(errorsOf({ type: "kubernetes.io/tls", stringData: { "tls.crt": "c" } }), [
      "data[tls.key]: Required value",
    ]);
    assert.deepEqual(errorsOf({ type: "kubernetes.io/basic-auth" }), [
      "data[username]: Required value",
      "data[password]: Required value",
    ]);
    assert.deepEqual(
      errorsOf({ type: "kubernetes.io/basic-auth", stringData: { password: "" } }),
      [],
    );
    assert.deepEqual(
      errorsOf({
        type: "kubernetes.io/dockerconfigjson",
        stringData: { ".dockerconfigjson": hidden },
      }),
      ['data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": invalid JSON'],
    );
    assert.deepEqual(errorsOf({ type: "kubernetes.io/service-account-token" }), [
      "metadata.annotations[kubernetes.io/service-account.name]: Required value",
    ]);
    assert.deepEqual(errorsOf({ type: "example.com/custom", stringData: { any: "v" } }), []);
  });

  it("keeps type, and an immutable Secret's data, as they were", () => {
    const old = { type: "Opaque", data: { k: "dg==" }, immutable: true };
    assert.deepEqual(
      errorsOf({ type: "example.com/other", data: { k: "dg==" }, immutable: true }, old),
      ['type: Invalid value: "example.com/other": field is immutable'],
    );
    assert.deepEqual(errorsOf({ data: { k: "dg==" } }, old), [
      "immutable: Forbidden: field is immutable when `immutable` is set",
    ]);
    assert.deepEqual(errorsOf({ stringData: { k: "v" }, immutable: true }, old), []);
    assert.deepEqual(errorsOf({ stringData: { k: "w" }, immutable: true }, old), [
      "data: Forbidden: field is immutable when `immutable` is set",
    ]);
    assert.deepEqual(errorsOf({ data: { k: "dw==" } }, { data: { k: "dg==" } }), [], "mutable");
  });

  it("refuses unknown top-level fields strictly", () => {
    assert.deepEqual(errorsOf({ spec: {}, status: {} }), [
      'strict decoding error: unknown field "spec", unknown field "status"',
    ]);
  });
});

describe("v1 Namespace validation", () => {
  const ns = (name: string, spec?: unknown) =>
    validateResource(
      NamespaceType as never,
      {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name, namespace: "ignored" },
        ...(spec !== undefined ? { spec } : {}),
      } as Resource,
    );

  it("defaults the kubernetes finalizer, drops a namespace, and wants a DNS-1123 label", () => {
    const ok = ns("team-a");
    assert.deepEqual(ok.errors, []);
    assert.deepEqual(ok.object.spec, { finalizers: ["kubernetes"] });
    assert.equal(ok.object.metadata.namespace, undefined);
    assert.match(
      ns("team.a").errors[0] ?? "",
      /metadata.name: Invalid value: "team.a": a lowercase RFC 1123 label/,
    );
    assert.match(ns("x".repeat(64)).errors[0] ?? "", /must be no more than 63 characters/);
    assert.match(
      ns("t", { finalizers: ["a/b/c"] }).errors[0] ?? "",
      /^spec.finalizers\[0\]: Invalid value: "a\/b\/c": a qualified name/,
    );
  });
});
