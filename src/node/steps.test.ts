import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { together } from "./steps.ts";

describe("together", () => {
  it("returns every result in order", async () => {
    assert.deepEqual(await together([Promise.resolve(1), sleep(5, "b")] as const), [1, "b"]);
  });

  it("waits for every step before failing, and throws the first failure in the order given", async () => {
    let slowDone = false;
    const slow = sleep(30).then(() => {
      slowDone = true;
    });
    await assert.rejects(
      together([
        slow,
        sleep(10).then(() => Promise.reject(new Error("second"))),
        Promise.reject(new Error("third")),
      ] as const),
      /second/,
    );
    assert.ok(slowDone, "nothing still runs when it fails");
  });
});
