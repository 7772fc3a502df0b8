// Snapshot tags and forks against hostile use: an atespace deleted (and its name given to
// someone else) while it holds tags, the tagged actor's live token in memory that forks run,
// and a burst of copies from one atespace. Over real records (SQLite) and file:// snapshots.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { actorWithSnapshot } from "../../test/support/committed-snapshot.ts";
import { actorTemplate, sandboxConfig } from "../api/testing.ts";
import { ActorTemplateType, SandboxConfigType } from "../api/v1alpha1/index.ts";
import { ActorTokens } from "../auth/actor-token.ts";
import { type BlobStore, openBlobStore } from "../blob/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { Records, SnapshotTags, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { ControlPlane } from "./control-plane.ts";
import { StaticNodeDirectory } from "./nodes.ts";

const code = (c: Code, re?: RegExp) => (e: unknown) =>
  isAteError(e, c) && (!re || re.test((e as Error).message));

describe("snapshot tags and forks, attacked", () => {
  let dir: string;
  let location: string;
  let cp: ControlPlane;
  let records: Records;
  const resources = new SqliteResourceStore({ path: ":memory:" });

  const suspendedWithSnapshot = (atespace: string, actorId: string) =>
    actorWithSnapshot(
      records,
      location,
      { atespace, actorId, templateName: "counter" },
      Buffer.from("memory"),
    );

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ate-tags-hostile-"));
    location = pathToFileURL(join(dir, "snapshots")).href;
    records = new Records(new SqliteRecordStore(":memory:"));
    cp = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({}) });
    await resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
    await resources.create(
      ActorTemplateType,
      actorTemplate("counter", { snapshotsConfig: { location } }),
    );
    for (const a of ["t", "u"]) await cp.createAtespace(a);
    await suspendedWithSnapshot("t", "a");
    await cp.snapshotTags.create(
      { atespace: "t", name: "pub" },
      { atespace: "t", name: "a" },
      "PUBLISHED",
    );
  });
  after(async () => {
    await cp.close();
    await records.store.close();
    await resources.close();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * A control plane whose every snapshot read waits at a gate, so its copies stay under way
   * until `release`; `reached(n)` resolves once n reads have come to the gate.
   */
  const gatedControlPlane = () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const waiters: { n: number; then: () => void }[] = [];
    let inside = 0;
    const reached = (n: number) =>
      new Promise<void>((then) => (inside >= n ? then() : waiters.push({ n, then })));
    const slow = (uri: string): BlobStore => {
      const store = openBlobStore(uri);
      return Object.assign(Object.create(store) as BlobStore, {
        get: async (...args: Parameters<BlobStore["get"]>) => {
          inside++;
          for (const w of waiters.filter((w) => inside >= w.n)) w.then();
          await gate;
          return store.get(...args);
        },
      });
    };
    const gated = new ControlPlane({
      records,
      resources,
      nodes: new StaticNodeDirectory({}),
      openSnapshots: slow,
    });
    return { gated, reached, release };
  };

  it("an atespace holding tags is not deleted: its tags would be the next owner's of the name", async () => {
    await cp.createAtespace("gone");
    await suspendedWithSnapshot("gone", "a");
    await cp.snapshotTags.create(
      { atespace: "gone", name: "keep" },
      { atespace: "gone", name: "a" },
      "ATESPACE",
    );
    await cp.deleteActor({ atespace: "gone", name: "a" });
    await assert.rejects(
      cp.deleteAtespace("gone"),
      code(
        Code.FailedPrecondition,
        /atespace gone still holds 1 snapshot tag\(s\): delete them first/,
      ),
    );
    await cp.snapshotTags.delete({ atespace: "gone", name: "keep" });
    await cp.deleteAtespace("gone");
    // Re-created (for someone else): nothing of the former owner's is there.
    await cp.createAtespace("gone");
    assert.deepEqual(await cp.snapshotTags.list("gone"), []);
  });

  it("a tag's record is not written into an atespace deleted meanwhile", async () => {
    // The copy was made while the atespace existed; the record's commit checks it still does.
    const tags = new SnapshotTags(records.store);
    const tag = {
      atespace: "vanished",
      name: "x",
      template: { namespace: "default", name: "counter" },
      policy: "ATESPACE" as const,
      snapshot: {
        type: "EXTERNAL" as const,
        scope: "Full" as const,
        uri: `${location}/_tags/vanished/x/1`,
      },
      sourceActor: { atespace: "vanished", actorId: "a" },
      createdAt: new Date().toISOString(),
    };
    await assert.rejects(
      tags.create(tag),
      code(Code.FailedPrecondition, /atespace vanished does not exist/),
    );
    // And it bumps the atespace's version, so a DeleteAtespace that counted no tags loses.
    await cp.createAtespace("vanished");
    const before = await records.getAtespace("vanished");
    await tags.create(tag);
    assert.equal((await records.getAtespace("vanished")).version, before.version + 1);
    await assert.rejects(
      records.store.commit([{ kind: "atespace", key: "vanished", expectVersion: before.version }]),
      code(Code.Aborted),
    );
  });

  it("revokes a stopped actor's token when its memory is tagged: forks must not inherit it", async () => {
    // The token a suspended actor's workload read is in its snapshot's memory, and still works
    // until the actor's next start; a fork (another atespace's, when published) runs that memory.
    const tokens = new ActorTokens(records.store);
    const withTokens = new ControlPlane({
      records,
      resources,
      nodes: new StaticNodeDirectory({}),
      actorTokens: tokens,
    });
    await cp.createAtespace("tok");
    await suspendedWithSnapshot("tok", "s");
    const s = await records.getActor("tok", "s");
    const inMemory = await tokens.issue(s); // issued at its last start, before the suspend
    assert.equal((await tokens.authenticate(inMemory)).actor, "s");
    await withTokens.snapshotTags.create(
      { atespace: "tok", name: "pub" },
      { atespace: "tok", name: "s" },
      "PUBLISHED",
    );
    await assert.rejects(tokens.authenticate(inMemory), code(Code.Unauthenticated));

    // A running actor's token was issued at a start after its snapshots: it stays.
    await suspendedWithSnapshot("tok", "r");
    const r = await records.getActor("tok", "r");
    await records.updateActor({ ...r, status: "RUNNING" });
    const live = await tokens.issue(r);
    await withTokens.snapshotTags.create(
      { atespace: "tok", name: "of-running" },
      { atespace: "tok", name: "r" },
      "ATESPACE",
    );
    assert.equal((await tokens.authenticate(live)).actor, "r");

    // A tag made while the token could not be revoked (here: by a control plane without
    // tokens) has it revoked at the fork, before its memory is copied for another actor.
    await cp.snapshotTags.create(
      { atespace: "tok", name: "late" },
      { atespace: "tok", name: "s" },
      "PUBLISHED",
    );
    const again = await tokens.issue(s); // as if s had started and stopped since
    await withTokens.createActor({ atespace: "u", name: "f" }, "default", "counter", undefined, {
      atespace: "tok",
      name: "late",
    });
    await assert.rejects(tokens.authenticate(again), code(Code.Unauthenticated));

    // A start that replaces the token between the read and the revocation keeps its own.
    const before = await tokens.issue(s);
    let fresh = "";
    const revoked = await tokens.revokeWhileStopped("tok", "s", async () => {
      fresh = await tokens.issue(s); // a start began meanwhile
      return true;
    });
    assert.equal(revoked, false);
    await assert.rejects(tokens.authenticate(before), code(Code.Unauthenticated));
    assert.equal((await tokens.authenticate(fresh)).actor, "s");
    await withTokens.close();
  });

  it("bounds the copies one atespace has under way: a burst is refused, other atespaces go on", async () => {
    const { gated, reached, release } = gatedControlPlane();
    const a = { atespace: "t", name: "a" };
    const pub = { atespace: "t", name: "pub" };
    const first = [
      gated.snapshotTags.create({ atespace: "t", name: "burst-1" }, a, "ATESPACE"),
      gated.createActor(
        { atespace: "t", name: "burst-fork" },
        "default",
        "counter",
        undefined,
        pub,
      ),
    ];
    await reached(2);
    await assert.rejects(
      gated.snapshotTags.create({ atespace: "t", name: "burst-2" }, a, "ATESPACE"),
      code(Code.ResourceExhausted, /^atespace t has 2 snapshot copies \(tags or forks\) under way/),
    );
    await assert.rejects(
      gated.createActor({ atespace: "t", name: "burst-3" }, "default", "counter", undefined, pub),
      code(Code.ResourceExhausted),
    );
    // Another atespace's copy is not held up by t's.
    const other = gated.createActor(
      { atespace: "u", name: "burst-u" },
      "default",
      "counter",
      undefined,
      pub,
    );
    await reached(3);
    release();
    await Promise.all([...first, other]);
    // Done, their places are free again.
    await gated.snapshotTags.create({ atespace: "t", name: "burst-2" }, a, "ATESPACE");
    for (const name of ["burst-1", "burst-2"])
      await cp.snapshotTags.delete({ atespace: "t", name });
    await gated.close();
  });

  it("a shutdown stops a fork's copy and waits for it: no actor is left half made", async () => {
    const { gated, reached, release } = gatedControlPlane();
    const fork = gated.createActor(
      { atespace: "u", name: "cut-short" },
      "default",
      "counter",
      undefined,
      { atespace: "t", name: "pub" },
    );
    const forkSettled = fork.then(
      () => "created",
      () => "failed",
    );
    await reached(1);
    let closed = false;
    const closing = gated.close().then(() => {
      closed = true;
    });
    // The shutdown waits for the copy under way (aborted) rather than leaving it running.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closed, false, "close waits for the copy");
    release();
    assert.equal(await forkSettled, "failed");
    await closing;
    await assert.rejects(cp.getActor({ atespace: "u", name: "cut-short" }), code(Code.NotFound));
    // And no new copy starts once it is shutting down.
    await assert.rejects(
      gated.createActor({ atespace: "u", name: "late" }, "default", "counter", undefined, {
        atespace: "t",
        name: "pub",
      }),
      code(Code.Unavailable, /shutting down/),
    );
  });
});
