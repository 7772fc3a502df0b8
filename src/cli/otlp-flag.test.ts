// `--otlp-endpoint` on the commands that run components: a URL that is not http(s) is refused
// before anything starts, the error naming the flag; the help shows it.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { CliIO } from "./io.ts";
import { runCli } from "./main.ts";

describe("--otlp-endpoint", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-otlp-flag-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const ate = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIO = {
      out: (t) => out.push(t),
      write: (t) => out.push(t),
      err: (t) => err.push(t),
      stdin: () => "",
      now: () => new Date(),
    };
    const code = await runCli(["--home", dir, ...args], io);
    return { code, out: out.join("\n"), err: err.join("\n") };
  };

  it("is refused unless http(s), naming the flag, before anything starts", async () => {
    for (const args of [
      ["controlplane", "--api-addr", "127.0.0.1:0", "--records", `sqlite://${join(dir, "r.db")}`],
      ["up", "--state-dir", join(dir, "up")],
    ]) {
      const r = await ate(...args, "--otlp-endpoint", "grpc://collector:4317");
      assert.notEqual(r.code, 0);
      assert.match(r.err, /--otlp-endpoint "grpc:\/\/collector:4317": give the OTLP\/HTTP/);
    }
  });

  it("is in the help of ate up, controlplane, node and router", async () => {
    for (const command of ["up", "controlplane", "node", "router"]) {
      const r = await ate(command, "--help");
      assert.match(`${r.out}${r.err}`, /--otlp-endpoint <url>/, command);
    }
  });
});
