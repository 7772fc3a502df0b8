// An actor's own token: issued per start, stored hashed, replaced (and so revoked) by the next,
// and good for that actor's get/suspend/pause of itself only.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, isAteError } from "../errors/index.ts";
import { type RecordStore, SqliteRecordStore } from "../records/index.ts";
import { parseActorToken } from "./actor-token.ts";
import { authorizeAdmin, authorizeControl } from "./control-policy.ts";
import { authorizeActorLogs, authorizeResource } from "./resource-policy.ts";
import { TokenStore } from "./token-store.ts";
import { hashSecret } from "./token-text.ts";

const code = (c: Code, message?: RegExp) => (e: unknown) =>
  isAteError(e, c) && (!message || message.test((e as Error).message));

async function putActor(store: RecordStore, atespace: string, actorId: string, createdAt: string) {
  const key = `${atespace}/${actorId}`;
  const old = (await store.get("actor", key)) as { version: number } | undefined;
  await store.commit([
    {
      kind: "actor",
      key,
      expectVersion: old?.version ?? 0,
      value: { atespace, actorId, createdAt, status: "RESUMING" },
    },
  ]);
}

describe("actor tokens", () => {
  const setup = async () => {
    const store = new SqliteRecordStore(":memory:");
    const tokens = new TokenStore(store, { now: () => new Date("2030-01-01T00:00:00Z") });
    const alice = { atespace: "a", actorId: "alice", createdAt: "2029-12-31T00:00:00.000Z" };
    await putActor(store, alice.atespace, alice.actorId, alice.createdAt);
    return { store, tokens, alice };
  };

  it("stores only the secret's hash and authenticates as the actor itself", async () => {
    const { store, tokens, alice } = await setup();
    const text = await tokens.actors.issue(alice);
    const parsed = parseActorToken(text);
    assert.deepEqual(
      { atespace: parsed?.atespace, actorId: parsed?.actorId },
      { atespace: "a", actorId: "alice" },
    );
    const stored = JSON.stringify(await store.get("actortoken", "a/alice"));
    assert.ok(!stored.includes(parsed?.secret as string), "the secret is not stored");
    assert.ok(stored.includes(hashSecret(parsed?.secret as string)), "its sha256 is");
    assert.deepEqual(await tokens.authenticate(`Bearer ${text}`), {
      name: "alice",
      role: "actor",
      atespace: "a",
      actor: "alice",
      createdAt: "2030-01-01T00:00:00.000Z",
    });
    // Not an admin-made token: never listed among them.
    assert.deepEqual(await tokens.list(), []);
    store.close();
  });

  it("is replaced by the next start's: the old one is refused at once", async () => {
    const { store, tokens, alice } = await setup();
    const first = await tokens.actors.issue(alice);
    const second = await tokens.actors.issue(alice);
    assert.notEqual(first, second);
    await assert.rejects(tokens.authenticate(`Bearer ${first}`), code(Code.Unauthenticated));
    assert.equal((await tokens.authenticate(`Bearer ${second}`)).actor, "alice");
    store.close();
  });

  it("refuses tampered, borrowed and malformed tokens, and those of a deleted actor", async () => {
    const { store, tokens, alice } = await setup();
    const text = await tokens.actors.issue(alice);
    await putActor(store, "a", "bob", alice.createdAt);
    const bobs = await tokens.actors.issue({ ...alice, actorId: "bob" });
    const secret = text.slice(-64);
    for (const bad of [
      text.replace(/.$/, text.endsWith("0") ? "1" : "0"), // tampered secret
      text.replace("_alice_", "_bob_"), // alice's secret, bob's name
      bobs.replace("_bob_", "_alice_"), // bob's secret, alice's name
      `ateact_a_carol_${secret}`, // nobody's
      `ateact_A_alice_${secret}`, // not a name
      `ateact_a_alice_${secret}0`, // too long a secret
      `ateact_a_${"x".repeat(64)}_${secret}`, // not a label
    ])
      await assert.rejects(
        tokens.authenticate(`Bearer ${bad}`),
        code(Code.Unauthenticated),
        bad.slice(0, 40),
      );
    // A header far longer than any token is refused unread.
    await assert.rejects(
      tokens.authenticate(`Bearer ${text}${"0".repeat(200)}`),
      code(Code.Unauthenticated),
    );
    // Deleted and made again under the same name: another actor, whose token this is not.
    await putActor(store, "a", "alice", "2030-01-01T00:00:00.000Z");
    await assert.rejects(
      tokens.authenticate(`Bearer ${text}`),
      code(Code.Unauthenticated, /since been deleted/),
    );
    await tokens.actors.revoke("a", "bob");
    await assert.rejects(tokens.authenticate(`Bearer ${bobs}`), code(Code.Unauthenticated));
    store.close();
  });

  it("may get, suspend and pause its actor only; everything else is PERMISSION_DENIED", async () => {
    const me = {
      name: "alice",
      role: "actor" as const,
      atespace: "a",
      actor: "alice",
      createdAt: "2030-01-01T00:00:00.000Z",
    };
    const self = { actorRef: { atespace: "a", name: "alice" } };
    for (const m of ["GetActor", "SuspendActor", "PauseActor"])
      assert.equal(authorizeControl(me, m, self), "allow", m);
    const denied = code(Code.PermissionDenied, /the actor token of a\/alice may/);
    for (const [m, req] of [
      ["GetActor", { actorRef: { atespace: "a", name: "bob" } }],
      ["SuspendActor", { actorRef: { atespace: "b", name: "alice" } }],
      ["PauseActor", { actorRef: { atespace: "b", name: "bob" } }],
      ["ResumeActor", self],
      ["DeleteActor", self],
      ["UpdateActor", self],
      ["CreateActor", { actorRef: { atespace: "a", name: "clone" } }],
      ["ListActors", { atespace: "a" }],
      ["ListActors", {}],
      ["WatchActors", { atespace: "a" }],
      ["ListAtespaces", {}],
      ["GetAtespace", { name: "a" }],
      ["CreateAtespace", { name: "x" }],
      ["ListWorkers", {}],
      ["ReportActivity", {}],
      ["DebugClear", {}],
    ] as const)
      assert.throws(() => authorizeControl(me, m, req), denied, `${m} ${JSON.stringify(req)}`);
    // A bad id is still a bad id, named.
    assert.throws(
      () => authorizeControl(me, "GetActor", { actorRef: { atespace: "a", name: "Bad_Name" } }),
      code(Code.InvalidArgument, /actor_ref.name/),
    );
    assert.throws(
      () => authorizeResource(me, "list", "actortemplates"),
      code(Code.PermissionDenied),
    );
    assert.throws(
      () => authorizeResource(me, "create", "workerpools"),
      code(Code.PermissionDenied),
    );
    assert.throws(
      () => authorizeActorLogs(me, { atespace: "a", name: "alice" }),
      code(Code.PermissionDenied),
    );
    authorizeAdmin(me, "WhoAmI");
    assert.throws(() => authorizeAdmin(me, "CreateToken"), code(Code.PermissionDenied));
  });
});
