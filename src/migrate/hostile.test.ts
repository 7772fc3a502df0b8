// What ate migrate refuses: snapshot uris outside where ate up writes, names that escape,
// symlinks, someone else's manifest, damaged files, actors that did not stop, a running ate
// up, bad flags. Each refusal names the thing and writes nothing to the cluster.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ActorTemplateType } from "../api/v1alpha1/index.ts";
import { runCli } from "../cli/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { goldenAtespace } from "../node/index.ts";
import { type RecordStore, SqliteRecordStore } from "../records/index.ts";
import { type ResourceStore, SqliteResourceStore } from "../resources/index.ts";
import { type MigrateOptions, migrate, parseSnapshotsTarget } from "./index.ts";
import { editActor, makeUpState, type UpFixture } from "./testing.ts";

describe("ate migrate refuses", () => {
  let f: UpFixture;
  let records: RecordStore;
  let resources: ResourceStore;
  let lines: string[];
  const run = (o: Partial<MigrateOptions> = {}) =>
    migrate({
      stateDir: f.stateDir,
      records,
      resources,
      snapshots: "s3://snaps/cluster",
      open: (uri) => f.open(uri),
      say: (l) => lines.push(l),
      ...o,
    });
  /** Refused with a message matching `what`, nothing written to the cluster. */
  const refused = async (what: RegExp, code = Code.FailedPrecondition) => {
    await assert.rejects(run(), (e) => {
      assert.ok(isAteError(e, code), String(e));
      assert.match(e.message, what);
      return true;
    });
    assert.equal(await records.count("actor"), 0, "no actor written");
    assert.equal(await records.count("token"), 0, "no token written");
    assert.equal((await resources.list(ActorTemplateType)).items.length, 0);
  };
  const aliceDir = () => fileURLToPath(f.alice);
  const pointAlice = (uri: string) =>
    editActor(f, "alice", (a) => ({
      ...a,
      latestSnapshot: { type: "EXTERNAL", scope: "Full", uri },
    }));

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

  it("a snapshot uri outside ate up's snapshot locations, or another actor's", async () => {
    mkdirSync(join(f.dir, "elsewhere", "default", "alice", "x"), { recursive: true });
    await pointAlice(pathToFileURL(join(f.dir, "elsewhere", "default", "alice", "x")).href);
    await refused(
      /actor default\/alice: snapshot "file:\/\/.*elsewhere.*" is not where ate up keeps the snapshots of default\/alice \(.*\/snaps\/default\/alice\/<id>/,
    );
    await pointAlice(f.bob); // bob's, on ate up's node
    await refused(/not where ate up keeps the snapshots of default\/alice/);
    await pointAlice("file:///etc");
    await refused(/not where ate up keeps/);
  });

  it("uris that escape with .., %2e%2e, // or a host, and names ate does not write", async () => {
    const snaps = pathToFileURL(f.snaps).href;
    for (const uri of [
      `${snaps}/default/alice/../../../../../etc`,
      `${snaps}/default/alice/%2e%2e/bob/x`,
      `${snaps}/default/alice//20240102T000000Z-0000000a`,
      `file://evil.example${fileURLToPath(f.alice)}`,
      `${snaps}/default/alice/.hidden`,
      `${snaps}/default/alice/a%20b`,
      `${snaps}/default/alice/20240102T000000Z-0000000a/checkpoint`,
    ]) {
      await pointAlice(uri);
      await refused(/not where ate up keeps the snapshots of default\/alice/);
    }
  });

  it("symlinks in or above a snapshot", async () => {
    const pages = join(aliceDir(), "checkpoint", "pages.img");
    rmSync(pages);
    symlinkSync("/etc/hostname", pages);
    await refused(/pages\.img is a symbolic link; .*nothing was read/, Code.FailedPrecondition);
    rmSync(pages);
    // The actor's directory itself a link to a copy of her snapshots.
    const real = join(f.dir, "moved-alice");
    renameSync(join(f.snaps, "default", "alice"), real);
    symlinkSync(real, join(f.snaps, "default", "alice"));
    await refused(/snaps\/default\/alice is a symbolic link/);
    assert.ok(!existsSync(join(f.s3dir, "snaps", "cluster", "default", "alice")));
  });

  it("a manifest of another actor, or naming files outside its snapshot", async () => {
    const bobManifest = readFileSync(join(fileURLToPath(f.bob), "manifest.json"), "utf8");
    const own = readFileSync(join(aliceDir(), "manifest.json"), "utf8");
    writeFileSync(join(aliceDir(), "manifest.json"), bobManifest);
    await refused(/snapshot .*alice.* was taken by default\/bob .*not by default\/alice/);
    const m = JSON.parse(own);
    m.snapshotFiles[0].name = "../../bob/20240103T000000Z-0000000b/checkpoint/pages.img";
    writeFileSync(join(aliceDir(), "manifest.json"), JSON.stringify(m));
    await refused(/lists the file "\.\.\/\.\.\/bob\/.*", which is not a clean relative name/);
    m.snapshotFiles[0].name = "manifest.json";
    writeFileSync(join(aliceDir(), "manifest.json"), JSON.stringify(m));
    await refused(/lists the file "manifest\.json"/);
  });

  it("a snapshot never committed, and one whose file does not match its manifest", async () => {
    const manifest = readFileSync(join(aliceDir(), "manifest.json"));
    rmSync(join(aliceDir(), "manifest.json"));
    await refused(
      /actor default\/alice: snapshot .* has no manifest\.json: it was never committed/,
    );
    writeFileSync(join(aliceDir(), "manifest.json"), manifest);
    // Same size, other bytes: found while copying; the copy gets no manifest, no record is written.
    const pages = join(aliceDir(), "checkpoint", "pages.img");
    writeFileSync(pages, readFileSync(pages, "utf8").replace("memory", "MEMORY"));
    await assert.rejects(run(), (e) => {
      assert.ok(isAteError(e, Code.DataLoss), String(e));
      assert.match(
        e.message,
        /pages\.img has sha256 [0-9a-f]{64} .*its snapshot's manifest says sha256/,
      );
      return true;
    });
    const copy = join(f.s3dir, "snaps", "cluster", "default", "alice", "20240102T000000Z-0000000a");
    assert.ok(!existsSync(join(copy, "manifest.json")), "the damaged copy is not committed");
    assert.ok(!existsSync(join(copy, "checkpoint", "pages.img")), "its file was removed");
    assert.equal(await records.count("actor"), 0);
    // Another size: found by the check before anything is copied.
    writeFileSync(pages, "short");
    await refused(
      /pages\.img has 5 bytes, its snapshot's manifest says \d+ bytes/,
      Code.FailedPrecondition,
    );
  });

  it("actors that did not stop with ate up, naming each", async () => {
    await editActor(f, "alice", (a) => ({ ...a, status: "RUNNING" }));
    await editActor(f, "carol", (a) => ({ ...a, status: "RESUMING" }));
    await refused(
      /actor default\/alice is RUNNING: ate up did not stop cleanly; start it again and stop it with Ctrl-C.*actor default\/carol is RESUMING/,
    );
  });

  it("a running ate up", async () => {
    const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      writeFileSync(join(f.stateDir, "ate-up.pid"), String(sleeper.pid));
      await refused(/ate up \(pid \d+\) is using the state directory .*: stop it first \(Ctrl-C/);
    } finally {
      sleeper.kill();
      await once(sleeper, "exit");
    }
    // Gone since (a crash): its lock is taken over, and released after.
    await run({ dryRun: true });
    assert.ok(!existsSync(join(f.stateDir, "ate-up.pid")));
  });

  it("a state dir that is not a stopped ate up's", async () => {
    await assert.rejects(run({ stateDir: join(f.dir, "none") }), /no such directory/);
    await assert.rejects(run({ stateDir: f.snaps }), /holds no records\.db/);
  });

  it("--snapshots that is not a clean s3:// bucket and prefix", () => {
    for (const bad of [
      "file:///tmp/x",
      "s3://",
      "s3://Bucket/x",
      "s3://b/../x",
      "s3://bucket/./x",
      "s3://bucket/a b",
      "s3://bucket/x?y",
      "s3://bucket//x",
      "http://bucket/x",
    ])
      assert.throws(
        () => parseSnapshotsTarget(bad),
        /--snapshots .*: give the S3 bucket and prefix/,
        bad,
      );
    assert.equal(parseSnapshotsTarget("s3://ate-snaps/prod/").uri, "s3://ate-snaps/prod");
    assert.equal(parseSnapshotsTarget("s3://ate-snaps").uri, "s3://ate-snaps");
  });

  it("a golden snapshot that is gone is taken again by the cluster", async () => {
    rmSync(join(fileURLToPath(f.golden), "manifest.json"));
    await run();
    const t = await resources.get(ActorTemplateType, "default", "counter");
    assert.equal(t.status, undefined);
    assert.equal(await records.count("actor", `${goldenAtespace}/`), 0);
    assert.ok(lines.some((l) => /golden snapshot .* is gone; the cluster takes it again/.test(l)));
  });
});

describe("ate migrate's flags", () => {
  const cli = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(args, {
      out: (t) => out.push(t),
      write: (t) => out.push(t),
      err: (t) => err.push(t),
      stdin: () => "",
      now: () => new Date(),
    });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };

  it("are required and checked", async () => {
    const none = await cli(["migrate"]);
    assert.equal(none.code, 2);
    assert.match(none.err, /--records is required/);
    const noSnaps = await cli(["migrate", "--records", "redis://127.0.0.1:1"]);
    assert.equal(noSnaps.code, 2);
    assert.match(noSnaps.err, /--snapshots is required/);
    const bad = await cli(["migrate", "--records", "mysql://x", "--snapshots", "s3://b/p"]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.err,
      /--records "mysql:\/\/x": give the cluster's Valkey as redis:\/\/HOST:PORT/,
    );
    const badS3 = await cli([
      "migrate",
      "--records",
      "redis://127.0.0.1:1",
      "--snapshots",
      "s3://b/../x",
    ]);
    assert.equal(badS3.code, 1);
    assert.match(badS3.err, /--snapshots "s3:\/\/b\/\.\.\/x"/);
  });
});
