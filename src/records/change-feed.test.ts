// The change feed of both records backends: every committed actor change, in commit order,
// to every reader — on Valkey also to readers on another store sharing the server.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type RunningValkey, startValkey } from "../../test/support/valkey.ts";
import { Code, isAteError } from "../errors/index.ts";
import { MemoryChangeFeed } from "./change-feed.ts";
import { Records } from "./records.ts";
import { RedisRecordStore } from "./redis-record-store.ts";
import { SqliteRecordStore } from "./sqlite-record-store.ts";
import type { RecordStore } from "./store.ts";
import type { Actor } from "./types.ts";

const actor = (id: string): Omit<Actor, "version"> => ({
  atespace: "team",
  actorId: id,
  templateNamespace: "default",
  templateName: "t",
  status: "SUSPENDED",
  createdAt: new Date().toISOString(),
});
const code = (c: Code) => (e: unknown) => isAteError(e, c);

function contract(name: string, open: () => Promise<[RecordStore, RecordStore]>) {
  describe(`the change feed on ${name}`, () => {
    let writer: RecordStore;
    let reader: RecordStore;
    before(async () => {
      [writer, reader] = await open();
    });
    after(async () => {
      await writer.close();
      if (reader !== writer) await reader.close();
    });

    it("feeds actor changes, only them, in commit order, with their versions", async () => {
      const records = new Records(writer);
      const from = await reader.changes.head();
      await records.createAtespace("team").catch(() => {});
      const a = await records.createActor(actor("a1"));
      await records.updateActor({ ...a, status: "RESUMING" });
      await records.deleteActor(await records.getActor("team", "a1"));
      const r = reader.changes.reader();
      try {
        const changes = await r.read(from, { limit: 100 });
        assert.deepEqual(
          changes.map((c) => [c.kind, c.key, c.value?.status, c.value?.version]),
          [
            ["actor", "team/a1", "SUSPENDED", 1],
            ["actor", "team/a1", "RESUMING", 2],
            ["actor", "team/a1", undefined, undefined],
          ],
        );
        const last = changes.at(-1)?.cursor as string;
        assert.deepEqual(await r.read(last, { limit: 100 }), [], "nothing after the last");
        assert.equal(await reader.changes.head(), last);
        // A commit that fails feeds nothing.
        await assert.rejects(
          records.createActor(actor("a1")).then(() => records.createActor(actor("a1"))),
        );
        const after = await r.read(last, { limit: 100 });
        assert.equal(after.length, 1, "one create");
      } finally {
        r.close();
      }
    });

    it("wakes a waiting reader at the next commit, and answers an empty wait in time", async () => {
      const records = new Records(writer);
      const from = await reader.changes.head();
      const r = reader.changes.reader();
      try {
        const started = Date.now();
        assert.deepEqual(await r.read(from, { limit: 10, waitMs: 200 }), []);
        assert.ok(Date.now() - started >= 150, "waited");
        const waiting = r.read(from, { limit: 10, waitMs: 10_000 });
        await new Promise((resolve) => setTimeout(resolve, 50));
        await records.createActor(actor("a2"));
        const got = await waiting;
        assert.equal(got[0]?.key, "team/a2");
      } finally {
        r.close();
      }
    });

    it("ends a waiting read when its signal aborts", async () => {
      const r = reader.changes.reader();
      const ac = new AbortController();
      try {
        const waiting = r.read(await reader.changes.head(), {
          limit: 10,
          waitMs: 10_000,
          signal: ac.signal,
        });
        setTimeout(() => ac.abort(new Error("stop")), 50);
        await assert.rejects(waiting);
      } finally {
        r.close();
      }
    });

    it("refuses cursors that are not its own, or from the future", async () => {
      const r = reader.changes.reader();
      try {
        for (const bad of ["", "x", "1-2-3", "../../", "a".repeat(200)])
          await assert.rejects(r.read(bad, { limit: 1 }), code(Code.InvalidArgument), bad);
        const head = await reader.changes.head();
        const future = head.includes(":")
          ? head.replace(/:(\d+)$/, (_, n) => `:${Number(n) + 1000}`)
          : `${Date.now() + 86_400_000}-0`;
        await assert.rejects(r.read(future, { limit: 1 }), code(Code.OutOfRange));
      } finally {
        r.close();
      }
    });
  });
}

contract("SQLite (in process)", async () => {
  const store = new SqliteRecordStore(":memory:");
  return [store, store];
});

let valkey: RunningValkey;
contract("Valkey, written by one store and read by another", async () => {
  valkey = await startValkey();
  return [new RedisRecordStore({ url: valkey.url }), new RedisRecordStore({ url: valkey.url })];
});
after(async () => {
  await valkey?.stop();
});

describe("a feed that keeps the latest changes only", () => {
  it("answers OUT_OF_RANGE to a reader that fell behind, and from another process", async () => {
    const feed = new MemoryChangeFeed(3);
    const start = await feed.head();
    for (let i = 1; i <= 5; i++)
      feed.publish([{ kind: "actor", key: `t/a${i}`, expectVersion: 0, value: {} }], [1]);
    const r = feed.reader();
    await assert.rejects(r.read(start, { limit: 10 }), code(Code.OutOfRange));
    const kept = await r.read(start.replace(/:\d+$/, ":2"), { limit: 10 });
    assert.deepEqual(
      kept.map((c) => c.key),
      ["t/a3", "t/a4", "t/a5"],
    );
    const other = new MemoryChangeFeed();
    await assert.rejects(other.reader().read(start, { limit: 10 }), code(Code.OutOfRange));
  });

  it("on Valkey, refuses a cursor older than the trimmed stream keeps", async () => {
    const v = await startValkey();
    const store = new RedisRecordStore({ url: v.url });
    try {
      const records = new Records(store);
      const start = await store.changes.head();
      await records.createAtespace("team");
      const a = await records.createActor(actor("x"));
      // Trim by hand to one entry, as MAXLEN does when the feed is long.
      const { Redis } = await import("ioredis");
      const raw = new Redis(v.url);
      await records.updateActor({ ...a, status: "RESUMING" });
      await raw.xtrim("ate:changes", "MAXLEN", 1);
      raw.disconnect();
      await assert.rejects(
        store.changes.reader().read(start, { limit: 10 }),
        code(Code.OutOfRange),
      );
      const head = await store.changes.head();
      assert.deepEqual(await store.changes.reader().read(head, { limit: 10 }), []);
    } finally {
      await store.close();
      await v.stop();
    }
  });
});
