// Whether a light command may open a TLS connection, as bin/ate's deferred certificates need.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { mayUseTls } from "./deferred-ca.ts";

describe("mayUseTls", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-deferred-ca-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const config = (text: string) => {
    const path = join(dir, `${Math.random()}.yaml`);
    writeFileSync(path, text);
    return { ATE_CONFIG: path };
  };
  const none = { ATE_CONFIG: join(dir, "none.yaml") };

  it("is false for the local ate up and other plain http servers", () => {
    assert.equal(mayUseTls(["get", "actors"], none), false);
    assert.equal(mayUseTls(["version"], config("server: http://10.0.0.1:7443\n")), false);
    assert.equal(mayUseTls(["--server", "http://x:1", "get", "actors"], none), false);
  });

  it("is true for an https server from the flag, the environment or the config file", () => {
    assert.equal(mayUseTls(["--server", "https://x", "version"], none), true);
    assert.equal(mayUseTls(["get", "actors", "--server=https://x"], none), true);
    assert.equal(mayUseTls(["version"], { ...none, ATE_SERVER: "https://x" }), true);
    assert.equal(mayUseTls(["version"], config("server: https://x:7443\n")), true);
    assert.equal(mayUseTls(["version"], config("server: 'https://x:7443'\n")), true);
  });

  it("is true for a --store (it may be rediss://)", () => {
    assert.equal(mayUseTls(["--store", "redis://x:6379", "get", "workerpools"], none), true);
  });

  it("is false when the configuration is broken: the command fails before connecting", () => {
    assert.equal(mayUseTls(["version"], config("server: [")), false);
    assert.equal(mayUseTls(["--server", "ftp://x", "version"], none), false);
  });
});
