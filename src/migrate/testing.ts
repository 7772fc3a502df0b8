// The state a stopped `ate up` leaves, built without running one, for the migration's tests:
// records and resources in SQLite, snapshots (golden, suspended, paused) with manifests, and
// the runtime in its node's asset cache.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { actorTemplate, sandboxConfig, workerPool } from "../api/testing.ts";
import { ActorTemplateType, SandboxConfigType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { TokenStore } from "../auth/index.ts";
import { type BlobStore, FileBlobStore } from "../blob/index.ts";
import { goldenActorId, goldenAtespace } from "../node/index.ts";
import { type Actor, Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import {
  type ActorIdentity,
  hashFile,
  manifestFormatVersion,
  type SnapshotManifest,
  writeSnapshot,
} from "../snapshots/index.ts";

export interface UpFixture {
  dir: string;
  stateDir: string;
  /** The template's file:// snapshot location (a directory). */
  snaps: string;
  runsc: { sha256: string; url: string };
  tokens: { admin: string; ci: string; n1: string };
  golden: string;
  alice: string;
  bob: string;
  /** Where the S3 double keeps objects (`<s3dir>/<bucket>/<key>`). */
  s3dir: string;
  /** Opens s3:// locations in s3dir. */
  open(uri: string): BlobStore;
}

const identity = (atespace: string, actorId: string): ActorIdentity => ({
  atespace,
  actorId,
  templateNamespace: "default",
  templateName: "counter",
});

/** Writes a snapshot (two files, manifest last) at `<root>/<atespace>/<actor>/<name>`. */
export async function writeSnap(
  f: Pick<UpFixture, "dir" | "runsc">,
  root: string,
  owner: ActorIdentity,
  name: string,
): Promise<string> {
  const src = mkdtempSync(join(f.dir, "src-"));
  mkdirSync(join(src, "checkpoint"));
  mkdirSync(join(src, "data"));
  writeFileSync(join(src, "checkpoint", "pages.img"), `memory of ${owner.actorId} ${name}`);
  writeFileSync(join(src, "data", "data.tar.gz"), `files of ${owner.actorId}`);
  const files = [];
  for (const n of ["checkpoint/pages.img", "data/data.tar.gz"])
    files.push({ name: n, ...(await hashFile(join(src, n))) });
  const manifest: SnapshotManifest = {
    formatVersion: manifestFormatVersion,
    scope: "Full",
    actor: owner,
    createdAt: new Date().toISOString(),
    arch: "amd64",
    sandboxClass: "gvisor",
    assets: { runsc: f.runsc },
    images: {},
    workload: { containers: [] },
    snapshotFiles: files,
  };
  const dir = join(root, owner.atespace, owner.actorId, name);
  await writeSnapshot(new FileBlobStore(dir), src, files, manifest, { concurrency: 1 });
  return pathToFileURL(dir).href;
}

export async function makeUpState(): Promise<UpFixture> {
  const dir = mkdtempSync(join(tmpdir(), "ate-migrate-"));
  const stateDir = join(dir, "state");
  const snaps = join(dir, "snaps");
  const s3dir = join(dir, "s3");
  const bytes = Buffer.from("#!/bin/sh\n# a runsc\n");
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  mkdirSync(join(stateDir, "node", "assets", "sha256"), { recursive: true });
  writeFileSync(join(stateDir, "node", "assets", "sha256", sha256), bytes);
  const runsc = { sha256, url: `http://127.0.0.1:7443/assets/sha256/${sha256}` };
  const f = { dir, runsc };
  const gid = goldenActorId("default", "counter");
  const golden = await writeSnap(
    f,
    snaps,
    identity(goldenAtespace, gid),
    "20240101T000000Z-00000001",
  );
  const alice = await writeSnap(
    f,
    snaps,
    identity("default", "alice"),
    "20240102T000000Z-0000000a",
  );
  const bob = await writeSnap(
    f,
    join(stateDir, "node", "snapshots"),
    identity("default", "bob"),
    "20240103T000000Z-0000000b",
  );

  const resources = new SqliteResourceStore({ path: join(stateDir, "ate.db") });
  await resources.create(
    SandboxConfigType,
    sandboxConfig(`gvisor-${sha256.slice(0, 12)}`, {
      default: true,
      assets: { amd64: { runsc } },
    }),
  );
  await resources.create(WorkerPoolType, workerPool("pool"));
  const t = await resources.create(
    ActorTemplateType,
    actorTemplate("counter", { snapshotsConfig: { location: pathToFileURL(snaps).href } }),
  );
  await resources.updateStatus(ActorTemplateType, {
    ...t,
    status: {
      phase: "Ready",
      goldenActorID: gid,
      goldenSnapshot: golden,
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "GoldenSnapshotTaken",
          message: `golden snapshot ${golden}`,
          lastTransitionTime: "2024-01-01T00:00:00Z",
        },
      ],
    },
  });
  await resources.close();

  const store = new SqliteRecordStore(join(stateDir, "records.db"));
  const records = new Records(store);
  await records.createAtespace("default");
  await records.createAtespace(goldenAtespace);
  const base = {
    templateNamespace: "default",
    templateName: "counter",
    createdAt: "2024-01-01T00:00:00.000Z",
  };
  const actors: Omit<Actor, "version">[] = [
    {
      ...base,
      atespace: goldenAtespace,
      actorId: gid,
      status: "SUSPENDED",
      latestSnapshot: { type: "EXTERNAL", scope: "Full", uri: golden },
      snapshots: [golden],
    },
    {
      ...base,
      atespace: "default",
      actorId: "alice",
      status: "SUSPENDED",
      latestSnapshot: { type: "EXTERNAL", scope: "Full", uri: alice },
      snapshots: ["file:///gone/default/alice/old", alice],
      snapshotsConfig: { location: pathToFileURL(snaps).href },
    },
    {
      ...base,
      atespace: "default",
      actorId: "bob",
      status: "PAUSED",
      latestSnapshot: { type: "LOCAL", scope: "Full", uri: bob, nodes: ["up"] },
      lastExternalSnapshot: { type: "EXTERNAL", scope: "Full", uri: "file:///gone/x" },
      snapshots: [bob],
      snapshotsConfig: { location: pathToFileURL(snaps).href },
    },
    { ...base, atespace: "default", actorId: "carol", status: "SUSPENDED" },
  ];
  for (const a of actors) await records.createActor(a);
  const tokens = new TokenStore(store);
  const admin = (await tokens.create({ name: "admin", role: "admin" })).text;
  const ci = (await tokens.create({ name: "ci", role: "tenant", atespace: "default" })).text;
  const n1 = (await tokens.create({ name: "n1", role: "node" })).text;
  await store.close();
  return {
    dir,
    stateDir,
    snaps,
    runsc,
    tokens: { admin, ci, n1 },
    golden,
    alice,
    bob,
    s3dir,
    open: (uri) => new FileBlobStore(join(s3dir, uri.replace(/^s3:\/\//, ""))),
  };
}

/** Changes one actor record of the fixture's ate up. */
export async function editActor(
  f: UpFixture,
  actorId: string,
  change: (a: Actor) => Actor,
): Promise<void> {
  const records = new Records(new SqliteRecordStore(join(f.stateDir, "records.db")));
  try {
    await records.updateActor(change(await records.getActor("default", actorId)));
  } finally {
    await records.store.close();
  }
}
