// Tokens on both records backends: SQLite and a real Redis.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type RunningRedis, startRedis } from "../../test/support/redis.ts";
import { Code, isAteError } from "../errors/index.ts";
import {
  type RecordStore,
  Records,
  RedisRecordStore,
  SqliteRecordStore,
} from "../records/index.ts";
import { TokenStore } from "./token-store.ts";
import { hashSecret, parseToken } from "./token-text.ts";

const code = (c: Code, message?: RegExp) => (e: unknown) =>
  isAteError(e, c) && (!message || message.test((e as Error).message));

function contract(name: string, open: () => Promise<RecordStore>, close: () => Promise<void>) {
  describe(`tokens on ${name}`, () => {
    let store: RecordStore;
    let now = new Date("2030-01-01T00:00:00Z");
    let tokens: TokenStore;
    let records: Records;
    before(async () => {
      store = await open();
      tokens = new TokenStore(store, { now: () => now });
      records = new Records(store);
    });
    after(async () => {
      await store.close();
      await close();
    });

    it("stores only a hash of the secret and authenticates the token's text", async () => {
      await store.clear();
      for (const t of await tokens.list()) await tokens.delete(t.name);
      await records.createAtespace("a");
      const { token, text } = await tokens.create({ name: "t1", role: "tenant", atespace: "a" });
      assert.deepEqual(token, {
        name: "t1",
        role: "tenant",
        atespace: "a",
        createdAt: "2030-01-01T00:00:00.000Z",
      });
      const parsed = parseToken(text);
      assert.equal(parsed?.name, "t1");
      const stored = JSON.stringify(await store.get("token", "t1"));
      assert.ok(!stored.includes(parsed?.secret as string), "the secret is not stored");
      assert.ok(stored.includes(hashSecret(parsed?.secret as string)), "its sha256 is");
      assert.deepEqual(await tokens.authenticate(`Bearer ${text}`), token);
      assert.deepEqual(await tokens.authenticate(`bearer  ${text}`), token, "scheme any case");
      assert.deepEqual(await tokens.list(), [token]);
      assert.deepEqual(await tokens.get("t1"), token);
    });

    it("refuses missing, malformed, unknown, wrong and revoked tokens alike", async () => {
      const { text } = await tokens.create({ name: "t2", role: "admin" });
      const other = text.replace(/.$/, text.endsWith("0") ? "1" : "0");
      for (const header of [
        undefined,
        "",
        "Basic dXNlcjpwdw==",
        `Bearer ${"x".repeat(100_000)}`,
        // Cut to its first bytes, this one would be the token.
        `Bearer ${text}${" ".repeat(200)}junk`,
        `Bearer ${text} junk`,
        `Bearer ${text}, Bearer ${text}`,
        `Basic ${text}`,
        "Bearer ate_t2_short",
        `Bearer ${other}`,
        `Bearer ${text.replace("ate_t2_", "ate_nobody_")}`,
      ])
        await assert.rejects(tokens.authenticate(header), code(Code.Unauthenticated));
      await tokens.delete("t2");
      await assert.rejects(
        tokens.authenticate(`Bearer ${text}`),
        code(Code.Unauthenticated, /not valid/),
        "revoked at once",
      );
      await assert.rejects(tokens.delete("t2"), code(Code.NotFound, /token t2 not found/));
    });

    it("expires tokens at their ttl", async () => {
      const { token, text } = await tokens.create({
        name: "short",
        role: "tenant",
        atespace: "a",
        ttlMs: 60_000,
      });
      assert.equal(token.expiresAt, "2030-01-01T00:01:00.000Z");
      assert.equal((await tokens.authenticate(`Bearer ${text}`)).name, "short");
      now = new Date("2030-01-01T00:01:00Z");
      await assert.rejects(
        tokens.authenticate(`Bearer ${text}`),
        code(Code.Unauthenticated, /token short expired at 2030-01-01T00:01:00.000Z/),
      );
      now = new Date("2030-01-01T00:00:00Z");
    });

    it("validates names, roles, atespaces and ttls, and never makes two of one name", async () => {
      await assert.rejects(
        tokens.create({ name: "Bad_Name", role: "admin" }),
        code(Code.InvalidArgument, /name: Invalid value: "Bad_Name"/),
      );
      await assert.rejects(
        tokens.create({ name: "x", role: "tenant" }),
        code(Code.InvalidArgument, /atespace: Required value/),
      );
      await assert.rejects(
        tokens.create({ name: "x", role: "admin", atespace: "a" }),
        code(Code.InvalidArgument, /atespace: Forbidden/),
      );
      await assert.rejects(
        tokens.create({ name: "x", role: "tenant", atespace: "a", ttlMs: -1 }),
        code(Code.InvalidArgument, /ttl/),
      );
      await assert.rejects(
        tokens.create({ name: "x", role: "tenant", atespace: "nowhere" }),
        code(Code.FailedPrecondition, /atespace nowhere does not exist: create it first/),
      );
      const results = await Promise.allSettled([
        tokens.create({ name: "dup", role: "admin" }),
        tokens.create({ name: "dup", role: "admin" }),
      ]);
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      await assert.rejects(
        tokens.create({ name: "dup", role: "admin" }),
        code(Code.AlreadyExists, /token dup already exists/),
      );
      const first = (await tokens.create({ name: "renewed", role: "admin" })).text;
      const second = (await tokens.create({ name: "renewed", role: "admin" }, { replace: true }))
        .text;
      await assert.rejects(tokens.authenticate(`Bearer ${first}`), code(Code.Unauthenticated));
      assert.equal((await tokens.authenticate(`Bearer ${second}`)).name, "renewed");
    });

    it("makes node and router tokens: no atespace, their role on every request, unknown roles refused", async () => {
      for (const role of ["node", "router"] as const) {
        const { token, text } = await tokens.create({ name: `m-${role}`, role });
        assert.deepEqual(token, {
          name: `m-${role}`,
          role,
          createdAt: "2030-01-01T00:00:00.000Z",
        });
        assert.deepEqual(await tokens.authenticate(`Bearer ${text}`), token);
        await assert.rejects(
          tokens.create({ name: `m-${role}-2`, role, atespace: "a" }),
          code(Code.InvalidArgument, new RegExp(`atespace: Forbidden: a ${role} token`)),
        );
      }
      await assert.rejects(
        tokens.create({ name: "m-x", role: "root" as never }),
        code(
          Code.InvalidArgument,
          /role: Unsupported value: "root": give one of admin, tenant, node, router/,
        ),
      );
      // A record with a role this version does not know (a newer writer's) grants nothing.
      const { text } = await tokens.create({ name: "m-future", role: "node" });
      const stored = (await store.get("token", "m-future")) as Record<string, unknown>;
      await store.commit([
        {
          kind: "token",
          key: "m-future",
          expectVersion: stored.version as number,
          value: { ...stored, role: "superuser" },
        },
      ]);
      await assert.rejects(tokens.authenticate(`Bearer ${text}`), code(Code.Unauthenticated));
    });

    it("ends a tenant's token with its atespace: deleted, or deleted and made again", async () => {
      await records.createAtespace("team", new Date("2030-01-01T00:00:00Z"));
      const { text } = await tokens.create({ name: "alice", role: "tenant", atespace: "team" });
      assert.equal((await tokens.authenticate(`Bearer ${text}`)).atespace, "team");
      await records.deleteAtespace("team");
      const gone = code(
        Code.Unauthenticated,
        /made for atespace team, which has since been deleted/,
      );
      await assert.rejects(tokens.authenticate(`Bearer ${text}`), gone);
      // Another team gets the name: alice's token is not theirs.
      await records.createAtespace("team", new Date("2030-06-01T00:00:00Z"));
      await assert.rejects(tokens.authenticate(`Bearer ${text}`), gone);
      const { text: bob } = await tokens.create({ name: "bob", role: "tenant", atespace: "team" });
      assert.equal((await tokens.authenticate(`Bearer ${bob}`)).name, "bob");
    });

    it("keeps tokens when the records are cleared (DebugClear)", async () => {
      const { text } = await tokens.create({ name: "kept", role: "admin" });
      await store.commit([{ kind: "atespace", key: "gone", expectVersion: 0, value: {} }]);
      await store.clear();
      assert.equal(await store.get("atespace", "gone"), undefined);
      assert.equal((await tokens.authenticate(`Bearer ${text}`)).name, "kept");
    });
  });
}

contract(
  "SQLite",
  async () => new SqliteRecordStore(":memory:"),
  async () => {},
);

let redis: RunningRedis | undefined;
contract(
  "Redis",
  async () => {
    redis = await startRedis();
    return new RedisRecordStore({ url: redis.url });
  },
  async () => redis?.stop(),
);
