import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { jsonLogger, type Logger, textLogger, withFields } from "./index.ts";

describe("loggers", () => {
  it("write text lines for a terminal: time, level, message, key=value (quoted when needed)", () => {
    const lines: string[] = [];
    const log = textLogger("info", (l) => lines.push(l));
    log.debug("hidden");
    log.warn("worker removed", { worker: "pool-1", error: "no such file", n: 2 });
    assert.equal(lines.length, 1);
    assert.match(
      lines[0] ?? "",
      /^\d\d:\d\d:\d\d WARN {2}worker removed worker=pool-1 error="no such file" n=2$/,
    );
  });

  it("write JSON lines for collectors", () => {
    const lines: string[] = [];
    jsonLogger("debug", (l) => lines.push(l)).info("up", { url: "http://x" });
    assert.deepEqual(
      { ...JSON.parse(lines[0] ?? "{}"), time: undefined },
      {
        time: undefined,
        level: "info",
        msg: "up",
        url: "http://x",
      },
    );
  });

  it("child loggers carry actor, worker and node fields on every line, in both formats", () => {
    const json: string[] = [];
    const text: string[] = [];
    const node = jsonLogger("info", (l) => json.push(l)).child?.({ node: "n1" });
    // A call repeating a child's field (node) does not write it twice.
    node?.child?.({ actor: "team-a/a1", worker: "w-1" }).info("restored", { ms: 12, node: "n1" });
    assert.equal(json[0]?.match(/"node"/g)?.length, 1);
    assert.deepEqual(
      { ...JSON.parse(json[0] ?? "{}"), time: undefined },
      {
        time: undefined,
        level: "info",
        node: "n1",
        actor: "team-a/a1",
        worker: "w-1",
        msg: "restored",
        ms: 12,
      },
    );
    withFields(
      textLogger("info", (l) => text.push(l)),
      { node: "n1" },
    ).error("lost");
    assert.match(text[0] ?? "", /^\d\d:\d\d:\d\d ERROR lost node=n1$/);
  });

  it("withFields wraps a hand-made logger; silent writes nothing; no field can make a call throw", () => {
    const seen: unknown[] = [];
    const plain: Logger = { debug() {}, info: (m, f) => seen.push([m, f]), warn() {}, error() {} };
    withFields(plain, { worker: "w" }).info("x", { n: 1 });
    assert.deepEqual(seen, [["x", { worker: "w", n: 1 }]]);
    const lines: string[] = [];
    jsonLogger("silent", (l) => lines.push(l)).error("nothing");
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    const log = jsonLogger("debug", (l) => lines.push(l));
    log.info("odd", { loop, big: 10n });
    assert.equal(lines.length, 1);
  });
});

describe("losing stdout and stderr", () => {
  // A child process whose stdout and stderr are pipes we close, then told to write to both.
  async function writeAfterLosingOutput(tolerate: boolean) {
    const script = `
      import { jsonLogger, outputLost, tolerateLostOutput } from ${JSON.stringify(new URL("./index.ts", import.meta.url).href)};
      if (${tolerate}) tolerateLostOutput();
      const log = jsonLogger("info");
      process.on("message", async () => {
        for (let i = 0; i < 3; i++) {
          process.stdout.write("banner\\n");
          log.info("still serving", { i });
          await new Promise((r) => setTimeout(r, 20));
        }
        process.send({ stdout: outputLost("stdout"), stderr: outputLost("stderr") }, () => process.exit(0));
      });
      process.send("ready");
    `;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        stdio: ["ignore", "pipe", "pipe", "ipc"],
      },
    );
    const exited = once(child, "exit");
    const [ready] = await once(child, "message");
    assert.equal(ready, "ready");
    child.stdout?.destroy();
    child.stderr?.destroy();
    const reply = new Promise((resolve) => child.once("message", resolve));
    child.send("go");
    const [code] = await exited;
    return { code, reply };
  }

  it("keeps the process running, dropping the output (EPIPE)", async () => {
    const { code, reply } = await writeAfterLosingOutput(true);
    assert.equal(code, 0);
    assert.deepEqual(await reply, { stdout: true, stderr: true });
  });

  it("(without it, the lost pipe kills the process)", async () => {
    const { code } = await writeAfterLosingOutput(false);
    assert.notEqual(code, 0);
  });
});
