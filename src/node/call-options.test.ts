// A node agent's call options in process: the deadline aborts the work with DEADLINE_EXCEEDED,
// an already aborted call never starts, and the caller's own abort passes through.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, isAteError } from "../errors/index.ts";
import { withCall } from "./call-options.ts";

const held = (signal: AbortSignal | undefined) =>
  new Promise((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason)));

describe("node call options", () => {
  it("aborts the work at the deadline", async () => {
    let seen: AbortSignal | undefined;
    await assert.rejects(
      withCall({ timeoutMs: 50 }, (s) => {
        seen = s;
        return held(s);
      }),
      (e) => isAteError(e, Code.DeadlineExceeded) && /50 ms deadline/.test(e.message),
    );
    assert.equal(seen?.aborted, true);
  });

  it("never starts a call whose signal is already aborted", async () => {
    let started = false;
    await assert.rejects(
      withCall({ signal: AbortSignal.abort() }, async () => {
        started = true;
      }),
      (e) => isAteError(e, Code.Canceled),
    );
    assert.equal(started, false);
  });

  it("passes the caller's abort to the work, with or without a deadline", async () => {
    for (const timeoutMs of [undefined, 60_000]) {
      const ac = new AbortController();
      const call = withCall({ signal: ac.signal, ...(timeoutMs ? { timeoutMs } : {}) }, held);
      ac.abort(new Error("caller gave up"));
      await assert.rejects(call, /caller gave up/);
    }
  });
});
