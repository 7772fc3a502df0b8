// Snapshot tags and forks over real records (SQLite) and real file:// snapshots: the copies,
// their owners, visibility by policy, and hostile input refused naming the field. The real
// restore of a fork is test/gvisor/snapshot-tags.test.ts.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { actorWithSnapshot } from "../../test/support/committed-snapshot.ts";
import { actorTemplate, sandboxConfig } from "../api/testing.ts";
import { ActorTemplateType, SandboxConfigType } from "../api/v1alpha1/index.ts";
import { authorizeControl } from "../auth/control-policy.ts";
import { openBlobStore } from "../blob/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { ControlPlane } from "./control-plane.ts";
import { StaticNodeDirectory } from "./nodes.ts";

const code = (c: Code, re?: RegExp) => (e: unknown) =>
  isAteError(e, c) && (!re || re.test((e as Error).message));

describe("snapshot tags and forks", () => {
  let dir: string;
  let location: string;
  let cp: ControlPlane;
  let records: Records;
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const body = Buffer.from("memory of a counter at 3");

  /** A suspended actor atespace/id whose latest snapshot (memory.img = body) is committed. */
  const suspendedWithSnapshot = (atespace: string, actorId: string, templateName = "counter") =>
    actorWithSnapshot(records, location, { atespace, actorId, templateName }, body);

  const manifestAt = async (uri: string) =>
    JSON.parse(await readFile(join(new URL(uri).pathname, "manifest.json"), "utf8"));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ate-tags-"));
    location = pathToFileURL(join(dir, "snapshots")).href;
    records = new Records(new SqliteRecordStore(":memory:"));
    cp = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({}) });
    await resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
    for (const name of ["counter", "other"])
      await resources.create(
        ActorTemplateType,
        actorTemplate(name, { snapshotsConfig: { location } }),
      );
    for (const a of ["t", "u"]) await cp.createAtespace(a);
    await suspendedWithSnapshot("t", "a");
    await suspendedWithSnapshot("t", "o", "other");
    await records.createActor({
      atespace: "t",
      actorId: "fresh",
      templateNamespace: "default",
      templateName: "counter",
      status: "SUSPENDED",
      createdAt: new Date().toISOString(),
    });
  });
  after(async () => {
    await records.store.close();
    await resources.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("copies the actor's latest snapshot under _tags/, manifest last, owned by the tag", async () => {
    const tag = await cp.snapshotTags.create(
      { atespace: "t", name: "three" },
      { atespace: "t", name: "a" },
      "ATESPACE",
    );
    assert.equal(tag.policy, "ATESPACE");
    assert.deepEqual(tag.template, { namespace: "default", name: "counter" });
    assert.deepEqual(tag.sourceActor, { atespace: "t", actorId: "a" });
    assert.ok(tag.snapshot.uri.startsWith(`${location}/_tags/t/three/`), tag.snapshot.uri);
    assert.equal((await manifestAt(tag.snapshot.uri)).actor.actorId, "a");
    const copied = await readFile(join(new URL(tag.snapshot.uri).pathname, "memory.img"));
    assert.deepEqual(copied, body);
    assert.deepEqual(
      (await cp.snapshotTags.list("t")).map((t) => t.name),
      ["three"],
    );
    await assert.rejects(
      cp.snapshotTags.create(
        { atespace: "t", name: "three" },
        { atespace: "t", name: "a" },
        "ATESPACE",
      ),
      code(Code.AlreadyExists, /snapshottag t\/three already exists/),
    );
  });

  it("refuses hostile names and actors it cannot tag, naming the field", async () => {
    const a = { atespace: "t", name: "a" };
    for (const [ref, field] of [
      [{ atespace: "t", name: "../x" }, /tag_ref.name/],
      [{ atespace: "T", name: "x" }, /tag_ref.atespace/],
      [{ atespace: "t", name: "x".repeat(64) }, /tag_ref.name/],
    ] as const)
      await assert.rejects(
        cp.snapshotTags.create(ref, a, "ATESPACE"),
        code(Code.InvalidArgument, field),
      );
    await assert.rejects(
      cp.snapshotTags.create({ atespace: "u", name: "x" }, a, "ATESPACE"),
      code(Code.InvalidArgument, /actor_ref.atespace/),
    );
    await assert.rejects(
      cp.snapshotTags.create(
        { atespace: "ate-golden", name: "x" },
        { atespace: "ate-golden", name: "g" },
        "ATESPACE",
      ),
      code(Code.PermissionDenied, /reserved/),
    );
    await assert.rejects(
      cp.snapshotTags.create(
        { atespace: "t", name: "x" },
        { atespace: "t", name: "fresh" },
        "ATESPACE",
      ),
      code(Code.FailedPrecondition, /no committed external snapshot: suspend it first/),
    );
    await assert.rejects(
      cp.createActor({ atespace: "t", name: "b" }, "default", "counter", undefined, {
        atespace: "t",
        name: "a/b",
      }),
      code(Code.InvalidArgument, /source_tag.name/),
    );
    await assert.rejects(
      cp.createActor({ atespace: "t", name: "b" }, "default", "counter", undefined, {
        atespace: "t",
        name: "nope",
      }),
      code(Code.NotFound, /snapshottag t\/nope not found/),
    );
  });

  it("forks: a copy of the tag's snapshot that is the new actor's own", async () => {
    const b = await cp.createActor({ atespace: "t", name: "b" }, "default", "counter", undefined, {
      atespace: "t",
      name: "three",
    });
    assert.equal(b.status, "SUSPENDED");
    const uri = b.latestSnapshot?.uri ?? "";
    assert.ok(uri.startsWith(`${location}/t/b/`), uri);
    assert.deepEqual(b.snapshots, [uri]);
    assert.deepEqual((await manifestAt(uri)).actor, {
      atespace: "t",
      actorId: "b",
      templateNamespace: "default",
      templateName: "counter",
    });
    await assert.rejects(
      cp.createActor({ atespace: "t", name: "b" }, "default", "counter", undefined, {
        atespace: "t",
        name: "three",
      }),
      code(Code.AlreadyExists),
    );
    await assert.rejects(
      cp.createActor({ atespace: "t", name: "c" }, "default", "other", undefined, {
        atespace: "t",
        name: "three",
      }),
      code(
        Code.FailedPrecondition,
        /snapshottag t\/three is a snapshot of template default\/counter, not default\/other/,
      ),
    );
  });

  it("another atespace may start from a published tag only", async () => {
    await assert.rejects(
      cp.createActor({ atespace: "u", name: "b" }, "default", "counter", undefined, {
        atespace: "t",
        name: "three",
      }),
      code(Code.NotFound, /^source_tag: snapshottag t\/three not found, or not published: /),
    );
    // An unpublished tag and a missing one answer another atespace word for word: no tenant
    // learns which tag names another atespace holds.
    const answer = (name: string) =>
      cp
        .createActor({ atespace: "u", name: "probe" }, "default", "counter", undefined, {
          atespace: "t",
          name,
        })
        .then(
          () => assert.fail("created"),
          (e: Error) => [AteError.from(e).code, e.message.replace(name, "NAME")],
        );
    assert.deepEqual(await answer("three"), await answer("no-such-tag"));
    assert.equal((await answer("three"))[0], Code.NotFound);
    await cp.snapshotTags.create(
      { atespace: "t", name: "pub" },
      { atespace: "t", name: "a" },
      "PUBLISHED",
    );
    const b = await cp.createActor({ atespace: "u", name: "b" }, "default", "counter", undefined, {
      atespace: "t",
      name: "pub",
    });
    assert.equal((await manifestAt(b.latestSnapshot?.uri ?? "")).actor.atespace, "u");
  });

  it("refuses a damaged snapshot, leaving no manifest at the copy", async () => {
    const uri = await suspendedWithSnapshot("t", "d");
    await writeFile(join(new URL(uri).pathname, "memory.img"), "tampered");
    await assert.rejects(
      cp.snapshotTags.create(
        { atespace: "t", name: "bad" },
        { atespace: "t", name: "d" },
        "ATESPACE",
      ),
      code(Code.DataLoss, /damaged/),
    );
    const left = await openBlobStore(`${location}/_tags/t/bad`).list("");
    assert.ok(!left.some((b) => b.key.endsWith("manifest.json")), JSON.stringify(left));
    await assert.rejects(cp.snapshotTags.get({ atespace: "t", name: "bad" }), code(Code.NotFound));
  });

  it("delete removes the record, then the tag's copy; forks keep theirs", async () => {
    const tag = await cp.snapshotTags.get({ atespace: "t", name: "three" });
    await cp.snapshotTags.delete({ atespace: "t", name: "three" });
    await assert.rejects(
      cp.snapshotTags.get({ atespace: "t", name: "three" }),
      code(Code.NotFound),
    );
    assert.deepEqual(await openBlobStore(tag.snapshot.uri).list(""), []);
    const b = await records.getActor("t", "b");
    assert.equal((await manifestAt(b.latestSnapshot?.uri ?? "")).actor.actorId, "b");
  });

  it("an atespace holds so many tags, counting those being made; deleting one makes room", async () => {
    const limited = new ControlPlane({
      records,
      resources,
      nodes: new StaticNodeDirectory({}),
      snapshotTagsPerAtespace: 2,
    });
    await cp.createAtespace("q");
    await suspendedWithSnapshot("q", "a");
    const make = (name: string, atespace = "q") =>
      limited.snapshotTags.create({ atespace, name }, { atespace, name: "a" }, "ATESPACE");
    // Three at once: two fit, the third is refused before anything is copied.
    const tries = await Promise.allSettled([make("one"), make("two"), make("three")]);
    assert.equal(tries.filter((t) => t.status === "fulfilled").length, 2);
    const refused = tries.find((t) => t.status === "rejected") as PromiseRejectedResult;
    assert.ok(
      code(
        Code.ResourceExhausted,
        /^atespace q has 2 snapshot tags, the most it may hold \(2\): delete one first/,
      )(refused.reason),
      String(refused.reason),
    );
    assert.equal((await limited.snapshotTags.list("q")).length, 2);
    const left = await openBlobStore(`${location}/_tags/q/`).list("");
    assert.equal(left.filter((b) => b.key.endsWith("manifest.json")).length, 2);
    // Another atespace has room of its own; a deleted tag frees its place.
    await make("elsewhere", "t");
    const [first] = await limited.snapshotTags.list("q");
    await limited.snapshotTags.delete({ atespace: "q", name: first?.name ?? "" });
    await make("again");
    await assert.rejects(make("more"), code(Code.ResourceExhausted));
  });

  it("a tenant reads and changes its own atespace's tags only", () => {
    const p = {
      name: "tt",
      role: "tenant" as const,
      atespace: "t",
      createdAt: "2030-01-01T00:00:00Z",
    };
    const mine = { tagRef: { atespace: "t", name: "x" } };
    const theirs = { tagRef: { atespace: "u", name: "x" } };
    for (const m of ["CreateSnapshotTag", "GetSnapshotTag", "DeleteSnapshotTag"])
      assert.equal(authorizeControl(p, m, mine), "allow");
    assert.throws(
      () => authorizeControl(p, "CreateSnapshotTag", theirs),
      code(Code.PermissionDenied),
    );
    assert.throws(() => authorizeControl(p, "GetSnapshotTag", theirs), code(Code.NotFound));
    assert.throws(() => authorizeControl(p, "DeleteSnapshotTag", theirs), code(Code.NotFound));
    assert.throws(
      () => authorizeControl(p, "GetSnapshotTag", { tagRef: { atespace: "t", name: "../x" } }),
      code(Code.InvalidArgument, /tag_ref.name/),
    );
    assert.deepEqual(authorizeControl(p, "ListSnapshotTags", {}), { onlyAtespace: "t" });
    assert.equal(authorizeControl(p, "ListSnapshotTags", { atespace: "u" }), "empty");
  });
});
