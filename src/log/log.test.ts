import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jsonLogger, textLogger } from "./index.ts";

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
});
