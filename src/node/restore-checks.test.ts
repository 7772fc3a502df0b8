import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, isAteError } from "../errors/index.ts";
import { manifestFormatVersion, type SnapshotManifest } from "../snapshots/index.ts";
import type { ActorIdentity, RestoreRequest } from "./api.ts";
import { goldenActorId, goldenAtespace } from "./golden.ts";
import { checkCombined, checkRestorable } from "./restore-checks.ts";

const actor = (atespace: string, actorId: string, templateName = "counter"): ActorIdentity => ({
  atespace,
  actorId,
  templateNamespace: "default",
  templateName,
});
const golden = (templateName: string) =>
  actor(goldenAtespace, goldenActorId("default", templateName), templateName);
const manifest = (owner: ActorIdentity, scope: "Full" | "Data" = "Full"): SnapshotManifest => ({
  formatVersion: manifestFormatVersion,
  scope,
  actor: owner,
  createdAt: "2025-01-01T00:00:00Z",
  arch: "amd64",
  sandboxClass: "gvisor",
  assets: {},
  images: {},
  workload: { containers: [] },
  snapshotFiles: [],
});
const req = (
  a: ActorIdentity,
  origin?: RestoreRequest["origin"],
): Pick<RestoreRequest, "actor" | "source" | "scope" | "origin"> => ({
  actor: a,
  source: "s3://snaps/x/1",
  scope: "Full",
  ...(origin ? { origin } : {}),
});
const refused = (pattern: RegExp) => (e: unknown) => {
  assert.ok(isAteError(e, Code.FailedPrecondition), String(e));
  assert.match((e as Error).message, pattern);
  return true;
};

describe("restore checks", () => {
  it("restore an actor's own snapshot (origin own, the default)", () => {
    checkRestorable(manifest(actor("a", "x")), req(actor("a", "x")), "amd64");
    checkRestorable(manifest(actor("a", "x")), req(actor("a", "x"), "own"), "amd64");
  });

  it("refuse another actor's snapshot, naming the snapshot and both actors", () => {
    for (const other of [actor("a", "y"), actor("b", "x"), golden("counter")]) {
      assert.throws(
        () => checkRestorable(manifest(other), req(actor("a", "x")), "amd64"),
        refused(
          new RegExp(
            `^snapshot s3://snaps/x/1 belongs to actor ${other.atespace}/${other.actorId} \\(template default/${other.templateName}\\), not to a/x \\(template default/counter\\).*nothing was restored`,
          ),
        ),
      );
    }
  });

  it("restore the golden snapshot of the actor's own template only", () => {
    checkRestorable(manifest(golden("counter")), req(actor("a", "x"), "golden"), "amd64");
    // Another template's golden snapshot, an ordinary actor's snapshot, an impostor in ate-golden.
    const impostor = { ...golden("counter"), actorId: "default-counter-00000000" };
    const wrongTemplate = { ...golden("counter"), templateName: "other" };
    for (const owner of [golden("other"), actor("a", "x"), impostor, wrongTemplate]) {
      assert.throws(
        () => checkRestorable(manifest(owner), req(actor("a", "x"), "golden"), "amd64"),
        refused(
          new RegExp(
            `^snapshot s3://snaps/x/1 is not the golden snapshot of template default/counter \\(that one is taken by ate-golden/${goldenActorId("default", "counter")}\\); it belongs to actor ${owner.atespace}/${owner.actorId} .*nothing was restored`,
          ),
        ),
      );
    }
  });

  it("refuse a manifest without a usable actor", () => {
    const broken = { ...manifest(actor("a", "x")), actor: "a/x" as unknown as ActorIdentity };
    assert.throws(
      () => checkRestorable(broken, req(actor("a", "x")), "amd64"),
      refused(/belongs to actor \(none recorded\)/),
    );
  });

  it("check scope and architecture too", () => {
    assert.throws(
      () => checkRestorable(manifest(actor("a", "x"), "Data"), req(actor("a", "x")), "amd64"),
      refused(/holds only data/),
    );
    assert.throws(
      () => checkRestorable(manifest(actor("a", "x")), req(actor("a", "x")), "arm64"),
      refused(/taken on amd64; this node is arm64/),
    );
  });
});

describe("combined restore checks (golden memory as base, the actor's data)", () => {
  const combined = (
    a: ActorIdentity,
    o: { scope?: "Full" | "Data"; origin?: RestoreRequest["origin"]; same?: boolean } = {},
  ) => ({
    actor: a,
    source: o.same ? "s3://snaps/golden/1" : "s3://snaps/x/1",
    base: "s3://snaps/golden/1",
    scope: o.scope ?? "Data",
    ...(o.origin ? { origin: o.origin } : {}),
  });
  const me = actor("a", "x");

  it("take this template's golden as base and the actor's own Data snapshot", () => {
    checkCombined(manifest(golden("counter")), manifest(me, "Data"), combined(me), "amd64");
    // An old golden without memory passes too: the node then boots with the data.
    checkCombined(manifest(golden("counter"), "Data"), manifest(me, "Data"), combined(me), "amd64");
    // A new actor: the golden is both base and data.
    const g = manifest(golden("counter"));
    checkCombined(g, g, combined(me, { origin: "golden", same: true }), "amd64");
  });

  it("refuse a base that is not this template's golden", () => {
    for (const owner of [golden("other"), actor("a", "y"), me]) {
      assert.throws(
        () => checkCombined(manifest(owner), manifest(me, "Data"), combined(me), "amd64"),
        refused(
          /^snapshot s3:\/\/snaps\/golden\/1 is not the golden snapshot of template default\/counter/,
        ),
      );
    }
  });

  it("refuse another actor's data, a Full snapshot as data, and scope Full", () => {
    const base = manifest(golden("counter"));
    assert.throws(
      () => checkCombined(base, manifest(actor("a", "y"), "Data"), combined(me), "amd64"),
      refused(/^snapshot s3:\/\/snaps\/x\/1 belongs to actor a\/y/),
    );
    assert.throws(
      () => checkCombined(base, manifest(me, "Full"), combined(me), "amd64"),
      refused(/^snapshot s3:\/\/snaps\/x\/1 has scope Full, not Data.*nothing was restored/),
    );
    assert.throws(
      () => checkCombined(base, manifest(me, "Data"), combined(me, { scope: "Full" }), "amd64"),
      (e: unknown) => isAteError(e, Code.InvalidArgument) && /scope must be Data/.test(String(e)),
    );
    assert.throws(
      () => checkCombined(base, manifest(me, "Data"), combined(me), "arm64"),
      refused(/taken on amd64; this node is arm64/),
    );
  });
});
