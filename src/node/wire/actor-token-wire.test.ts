// The actor token a Run or Restore carries: only the shape ate issues reaches the sandbox's
// /run/ate/token, and a refusal never repeats the value.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, isAteError } from "../../errors/index.ts";
import { actorTokenFromWire } from "./actor-token-wire.ts";

describe("actor_token from the wire", () => {
  const good = `ateact_demo_job-a_${"ab".repeat(32)}`;

  it("takes an actor token as issued", () => {
    assert.equal(actorTokenFromWire(good), good);
  });

  it("refuses anything else, naming the field and not the value", () => {
    for (const bad of [
      "",
      `${good}\n`,
      `${good}/../x`,
      `ate_admin_${"ab".repeat(32)}`,
      `ateact_demo_job-a_${"AB".repeat(32)}`,
      `ateact_demo_${"x".repeat(64)}_${"ab".repeat(32)}`,
      "x".repeat(100_000),
    ])
      assert.throws(
        () => actorTokenFromWire(bad),
        (e: unknown) =>
          isAteError(e, Code.InvalidArgument) &&
          /^actor_token: Invalid value: not an actor token/.test((e as Error).message) &&
          !(e as Error).message.includes("ab".repeat(8)),
        JSON.stringify(bad.slice(0, 40)),
      );
  });
});
