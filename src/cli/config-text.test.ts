// The config file's fast path must read every text exactly as YAML does (else it defers).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { parseConfigText } from "./config-text.ts";

/** What YAML makes of a text: the value, or its error's message. */
const outcome = (f: () => unknown) => {
  try {
    return { value: f() };
  } catch (err) {
    return { error: (err as Error).message };
  }
};

describe("parseConfigText", () => {
  it("reads each text as YAML does", () => {
    const texts = [
      "",
      "\n\n",
      "server: http://127.0.0.1:7443\ntoken: ate_admin_0123abcd\n",
      "server: https://ate.example.com/\n",
      "token: ate_t_ff\nserver: http://[::1]:7443\n",
      "server: http://a:b",
      "a: b:",
      "a: x#y",
      "a: x #y",
      "a: null\n",
      "a: Null",
      "a: TRUE",
      "a: false",
      "a: nULL",
      "a: yes",
      "a: 123",
      "a: 1e3",
      "a: .inf",
      "a: b\na: c\n",
      "a: b\r\n",
      "a:  b",
      "a: 'b'",
      '# comment\nserver: "http://x:1"\n',
      "---\nserver: http://x:1\n",
      "- a\n- b\n",
      "just text",
      "server: http://x:1\n  token: y\n",
      "Server: http://x:1",
      "a_b: c",
      "\ufeffserver: http://x:1",
      "a: b\n\nc: d",
    ];
    for (const text of texts)
      assert.deepEqual(
        outcome(() => parseConfigText(text)),
        outcome(() => parse(text)),
        JSON.stringify(text),
      );
  });
});
