// Moving a stopped ate up's records, resources and snapshots to a cluster's stores: what is
// copied and how it is rewritten, dry runs, re-runs after a run cut short, and what the
// cluster already holds. Against SQLite and an S3 double here, and a real valkey-server and
// s3rver at the end.
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { NamespaceType, SecretType, secretValues } from "../api/v1/index.ts";
import {
  type ActorTemplate,
  ActorTemplateType,
  type SandboxConfig,
  SandboxConfigType,
} from "../api/v1alpha1/index.ts";
import { TokenStore } from "../auth/index.ts";
import type { BlobStore } from "../blob/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { goldenActorId, goldenAtespace } from "../node/index.ts";
import {
  type Actor,
  type RecordStore,
  Records,
  RedisRecordStore,
  SqliteRecordStore,
} from "../records/index.ts";
import { openResourceStore, type ResourceStore, SqliteResourceStore } from "../resources/index.ts";
import { type MigrateOptions, migrate } from "./index.ts";
import { makeUpState, type UpFixture } from "./testing.ts";

const prefix = "s3://snaps/cluster";

describe("ate migrate", () => {
  let f: UpFixture;
  let records: RecordStore;
  let resources: ResourceStore;
  let lines: string[];
  const run = (o: Partial<MigrateOptions> = {}) =>
    migrate({
      stateDir: f.stateDir,
      records,
      resources,
      snapshots: prefix,
      open: (uri) => f.open(uri),
      say: (l) => lines.push(l),
      ...o,
    });
  const actor = async (id: string, atespace = "default") =>
    new Records(records).getActor(atespace, id);

  beforeEach(async () => {
    f = await makeUpState();
    records = new SqliteRecordStore(":memory:");
    resources = new SqliteResourceStore({ path: ":memory:" });
    lines = [];
  });
  afterEach(async () => {
    await records.close();
    await resources.close();
    rmSync(f.dir, { recursive: true, force: true });
  });

  it("copies snapshots and the runtime to S3 and rewrites every uri that names them", async () => {
    const r = await run();
    assert.deepEqual(r.resources, { create: 3, unchanged: 0, status: 0 });
    assert.deepEqual(r.records, { create: 8, unchanged: 0, status: 0 }); // 2 atespaces, 2 tokens, 4 actors
    const alice = await actor("alice");
    const aliceCopy = `${prefix}/default/alice/20240102T000000Z-0000000a`;
    assert.equal(alice.status, "SUSPENDED");
    assert.deepEqual(alice.latestSnapshot, { type: "EXTERNAL", scope: "Full", uri: aliceCopy });
    // Snapshots left on the old machine are no longer named; the copy is.
    assert.deepEqual(alice.snapshots, [aliceCopy]);
    assert.equal(alice.snapshotsConfig?.location, prefix);
    // PAUSED on ate up's node: SUSPENDED at the copy of that snapshot, its newest state.
    const bob = await actor("bob");
    const bobCopy = `${prefix}/default/bob/20240103T000000Z-0000000b`;
    assert.equal(bob.status, "SUSPENDED");
    assert.deepEqual(bob.latestSnapshot, { type: "EXTERNAL", scope: "Full", uri: bobCopy });
    assert.equal(bob.lastExternalSnapshot, undefined);
    assert.ok(lines.some((l) => /actor default\/bob: PAUSED .* SUSPENDED in the cluster/.test(l)));
    assert.equal((await actor("carol")).latestSnapshot, undefined);
    const gid = goldenActorId("default", "counter");
    const goldenCopy = `${prefix}/${goldenAtespace}/${gid}/20240101T000000Z-00000001`;
    assert.equal((await actor(gid, goldenAtespace)).latestSnapshot?.uri, goldenCopy);

    const t = (await resources.get(ActorTemplateType, "default", "counter")) as ActorTemplate;
    assert.equal(t.spec.snapshotsConfig.location, prefix);
    assert.equal(t.status?.phase, "Ready");
    assert.equal(t.status?.goldenSnapshot, goldenCopy);
    assert.equal(t.status?.conditions?.[0]?.message, `golden snapshot ${goldenCopy}`);
    const runscCopy = `${prefix}/_runtime/sha256/${f.runsc.sha256}`;
    const sc = (await resources.list(SandboxConfigType)).items[0] as SandboxConfig;
    assert.equal(sc.spec.assets?.amd64?.runsc?.url, runscCopy);

    // The copies: every file, the manifest naming the runtime where nodes fetch it.
    const s3 = (key: string) => join(f.s3dir, "snaps", "cluster", key);
    const manifest = JSON.parse(
      readFileSync(s3(`default/bob/20240103T000000Z-0000000b/manifest.json`), "utf8"),
    );
    assert.deepEqual(manifest.assets.runsc, { url: runscCopy, sha256: f.runsc.sha256 });
    assert.equal(manifest.actor.actorId, "bob");
    assert.equal(
      readFileSync(s3("default/bob/20240103T000000Z-0000000b/checkpoint/pages.img"), "utf8"),
      "memory of bob 20240103T000000Z-0000000b",
    );
    assert.ok(existsSync(s3(`_runtime/sha256/${f.runsc.sha256}`)));

    // Tokens keep working; ate up's own admin credential stays behind.
    const tokens = new TokenStore(records);
    assert.equal((await tokens.authenticate(`Bearer ${f.tokens.ci}`)).atespace, "default");
    assert.equal((await tokens.authenticate(`Bearer ${f.tokens.n1}`)).role, "node");
    await assert.rejects(tokens.authenticate(`Bearer ${f.tokens.admin}`), (e) =>
      isAteError(e, Code.Unauthenticated),
    );
    assert.ok(
      lines.some((l) => /token admin: ate up's own admin credential .* not copied/.test(l)),
    );
  });

  it("moves namespaces and Secrets first, printing no value; a re-run leaves them", async () => {
    const up = new SqliteResourceStore({ path: join(f.stateDir, "ate.db") });
    await up.create(NamespaceType, {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "team", labels: { tier: "a" } },
      spec: {},
    });
    await up.create(SecretType, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "api", namespace: "team" },
      stringData: { token: "s3cr3t-value" },
    } as never);
    await up.close();
    assert.deepEqual((await run()).resources, { create: 5, unchanged: 0, status: 0 });
    const ns = await resources.get(NamespaceType, undefined, "team");
    assert.deepEqual(ns.metadata.labels, { tier: "a" });
    const secret = await resources.get(SecretType, "team", "api");
    assert.deepEqual(secretValues(secret as never), { token: "s3cr3t-value" });
    assert.ok(lines.some((l) => l.includes("created Secret team/api")));
    assert.ok(!lines.some((l) => l.includes("s3cr3t")));
    lines = [];
    assert.deepEqual((await run()).resources, { create: 0, unchanged: 5, status: 0 });
  });

  it("writes nothing in a dry run, and says what it would do", async () => {
    const r = await run({ dryRun: true });
    assert.deepEqual(r.records, { create: 8, unchanged: 0, status: 0 });
    assert.equal(await records.count("actor"), 0);
    assert.equal((await resources.list(ActorTemplateType)).items.length, 0);
    assert.ok(!existsSync(f.s3dir), "nothing in S3");
    const text = lines.join("\n");
    assert.match(
      text,
      /would copy snapshot file:\/\/.*\/default\/alice\/\S+ to s3:\/\/snaps\/cluster\/default\/alice\/\S+ \(2 files, \d+ bytes\)/,
    );
    assert.match(text, /would copy runtime asset sha256 [0-9a-f]{12} \(\d+ bytes\)/);
    assert.match(text, /would create actor default\/bob/);
  });

  it("leaves what an earlier run wrote, and finishes a run cut short", async () => {
    // Killed after three objects: some snapshot files are in S3, no manifest, no record.
    let puts = 0;
    const dying = (uri: string): BlobStore => {
      const s = f.open(uri);
      return {
        ...s,
        uri: s.uri,
        get: (k, o) => s.get(k, o),
        stat: (k, o) => s.stat(k, o),
        list: (p, o) => s.list(p, o),
        delete: (k, o) => s.delete(k, o),
        put: async (k, b, o) => {
          if (++puts > 3) throw new Error("killed");
          return s.put(k, b, o);
        },
      };
    };
    await assert.rejects(run({ open: dying }), /killed/);
    assert.equal(await records.count("actor"), 0, "no record before its snapshot");
    // The next run copies what is missing, then writes every record.
    lines = [];
    const r1 = await run();
    assert.deepEqual(r1.records, { create: 8, unchanged: 0, status: 0 });
    assert.equal((await actor("alice")).status, "SUSPENDED");
    lines = [];
    const again = await run();
    assert.deepEqual(again.resources, { create: 0, unchanged: 3, status: 0 });
    assert.deepEqual(again.records, { create: 0, unchanged: 8, status: 0 });
    assert.ok(lines.some((l) => /snapshot default\/alice\/\S+: already at s3:/.test(l)));
    assert.ok(!lines.some((l) => /^ {2}(copied|created)/.test(l)), lines.join("\n"));
  });

  it("sets the status a run cut short between a template and its status left out", async () => {
    await run();
    const t = await resources.get(ActorTemplateType, "default", "counter");
    await resources.delete(ActorTemplateType, "default", "counter");
    await resources.create(ActorTemplateType, {
      ...t,
      metadata: { name: "counter", namespace: "default" },
    });
    const r = await run();
    assert.deepEqual(r.resources, { create: 0, unchanged: 2, status: 1 });
    const now = (await resources.get(ActorTemplateType, "default", "counter")) as ActorTemplate;
    assert.match(now.status?.goldenSnapshot ?? "", /^s3:\/\/snaps\/cluster\/ate-golden\//);
  });

  it("never overwrites what the cluster holds with other content, and writes nothing then", async () => {
    await new Records(records).createAtespace("default"); // a control plane started first
    await new Records(records).createActor({
      atespace: "default",
      actorId: "alice",
      templateNamespace: "default",
      templateName: "other",
      status: "SUSPENDED",
      createdAt: "2025-01-01T00:00:00.000Z",
    } as Omit<Actor, "version">);
    await assert.rejects(run(), (e) => {
      assert.ok(isAteError(e, Code.AlreadyExists));
      const text = e.details.join("\n");
      assert.match(text, /atespace default exists there with other content/);
      assert.match(text, /actor default\/alice exists there with other content/);
      assert.match(text, /before any control plane starts on it/);
      return true;
    });
    assert.equal(await records.count("token"), 0, "nothing written");
    assert.equal((await actor("alice")).templateName, "other", "alice left as she was");
    assert.equal((await resources.list(SandboxConfigType)).items.length, 0);
  });

  it("refuses a snapshot target that already holds another snapshot", async () => {
    await run();
    const key = join(f.s3dir, "snaps", "cluster", "default", "alice", "20240102T000000Z-0000000a");
    const m = JSON.parse(readFileSync(join(key, "manifest.json"), "utf8"));
    await f
      .open(`${prefix}/default/alice/20240102T000000Z-0000000a`)
      .put(
        "manifest.json",
        Buffer.from(JSON.stringify({ ...m, createdAt: "2030-01-01T00:00:00Z" })),
      );
    await assert.rejects(run(), /already holds a snapshot whose manifest\.json differs/);
  });
});

describe("ate migrate into valkey-server and s3rver", { timeout: 60_000 }, async () => {
  const { startValkey } = await import("../../test/support/valkey.ts");
  const { startS3 } = await import("../../test/support/s3rver.ts");
  let valkey: Awaited<ReturnType<typeof startValkey>>;
  let s3: Awaited<ReturnType<typeof startS3>>;
  let f: UpFixture;
  before(async () => {
    valkey = await startValkey();
    s3 = await startS3(["snaps"]);
    f = await makeUpState();
  });
  after(async () => {
    await s3?.stop();
    await valkey?.stop();
    if (f) rmSync(f.dir, { recursive: true, force: true });
  });

  it("copies to S3 and writes Valkey, and a second run finds it all there", async () => {
    const records = new RedisRecordStore({ url: valkey.url });
    const resources = openResourceStore({ url: valkey.url });
    try {
      const lines: string[] = [];
      const o = {
        stateDir: f.stateDir,
        records,
        resources,
        snapshots: prefix,
        say: (l: string) => lines.push(l),
      };
      assert.deepEqual((await migrate(o)).records, { create: 8, unchanged: 0, status: 0 });
      const bob = await new Records(records).getActor("default", "bob");
      assert.equal(bob.latestSnapshot?.uri, `${prefix}/default/bob/20240103T000000Z-0000000b`);
      const { committedSnapshot } = await import("../snapshots/index.ts");
      const m = await committedSnapshot(bob.latestSnapshot?.uri ?? "");
      assert.equal(m?.assets.runsc?.url, `${prefix}/_runtime/sha256/${f.runsc.sha256}`);
      assert.deepEqual((await migrate(o)).records, { create: 0, unchanged: 8, status: 0 });
      const t = await resources.get(ActorTemplateType, "default", "counter");
      assert.equal((t as ActorTemplate).status?.phase, "Ready");
    } finally {
      await records.close();
      await resources.close();
    }
  });
});
