import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveActor } from "./address.ts";

const domain = "resources.substrate.ate.dev";

describe("resolving an actor from a request", () => {
  it("reads the Host form, with a port and a trailing dot", () => {
    assert.deepEqual(
      resolveActor("a1.demo.actors.resources.substrate.ate.dev:8080", "/count?x=1", domain),
      {
        ok: true,
        target: { atespace: "demo", actor: "a1", path: "/count?x=1" },
      },
    );
    assert.deepEqual(resolveActor("A1.Demo.actors.resources.substrate.ate.dev.", "/", domain), {
      ok: true,
      target: { atespace: "demo", actor: "a1", path: "/" },
    });
  });

  it("reads the path form", () => {
    assert.deepEqual(resolveActor("localhost", "/actors/demo/a1/count?x=1", domain), {
      ok: true,
      target: { atespace: "demo", actor: "a1", path: "/count?x=1" },
    });
    assert.deepEqual(resolveActor("localhost", "/actors/demo/a1", domain), {
      ok: true,
      target: { atespace: "demo", actor: "a1", path: "/" },
    });
    assert.deepEqual(resolveActor("localhost", "/actors/demo/a1?x", domain), {
      ok: true,
      target: { atespace: "demo", actor: "a1", path: "/?x" },
    });
  });

  it("refuses everything else clearly", () => {
    for (const [host, url, status] of [
      ["example.com", "/", 404],
      ["x.y.z.actors.resources.substrate.ate.dev", "/", 400],
      ["bad_actor.demo.actors.resources.substrate.ate.dev", "/", 400],
      ["localhost", "/actors/demo/a1/../../etc/passwd", 400],
      ["localhost", "/actors/demo/a1/%2e%2e/x", 400],
      ["localhost", "/actors/demo/a1/%zz", 400],
      ["localhost", "/actors/Demo/a1/", 400],
      [undefined, "http://evil/", 400],
    ] as const) {
      const r = resolveActor(host, url, domain);
      assert.equal(r.ok, false, `${host} ${url}`);
      if (!r.ok) assert.equal(r.status, status, `${host} ${url}: ${r.reason}`);
    }
  });
});
