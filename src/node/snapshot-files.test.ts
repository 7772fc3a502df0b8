import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { openBlobStore } from "../blob/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import {
  hashFile,
  manifestFormatVersion,
  type SnapshotManifest,
  writeSnapshot,
} from "../snapshots/index.ts";
import { snapshotFiles } from "./snapshot-files.ts";

const manifestFor = (files: SnapshotManifest["snapshotFiles"]): SnapshotManifest => ({
  formatVersion: manifestFormatVersion,
  scope: "Full",
  actor: { atespace: "a", templateNamespace: "default", templateName: "t", actorId: "x" },
  createdAt: "2025-01-01T00:00:00Z",
  arch: "amd64",
  sandboxClass: "gvisor",
  assets: {},
  images: {},
  workload: { containers: [] },
  snapshotFiles: files,
});

describe("snapshotFiles", () => {
  const root = mkdtempSync(join(tmpdir(), "ate-snapshot-files-"));
  const snapshotsDir = join(root, "state", "snapshots");
  mkdirSync(snapshotsDir, { recursive: true });
  // A location any user may write to (not sticky): its snapshots must be verified.
  const shared = join(root, "shared");
  mkdirSync(shared);
  chmodSync(shared, 0o777);
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;

  /** A committed snapshot at `dir` (moved there, as takeSnapshot does for local ones). */
  async function snapshot(dir: string) {
    const stage = join(root, `stage-${++n}`);
    mkdirSync(join(stage, "checkpoint"), { recursive: true });
    mkdirSync(join(stage, "data"), { recursive: true });
    writeFileSync(join(stage, "checkpoint", "pages.img"), "memory pages");
    writeFileSync(join(stage, "data", "vol.tar.gz"), "durable bytes");
    const files = [];
    for (const name of ["checkpoint/pages.img", "data/vol.tar.gz"])
      files.push({ name, ...(await hashFile(join(stage, name))) });
    const manifest = manifestFor(files);
    const uri = pathToFileURL(dir).href;
    await writeSnapshot(openBlobStore(uri), stage, files, manifest, {
      moveTo: dir,
      concurrency: 1,
    });
    return { uri, manifest, store: openBlobStore(uri), tmp: join(root, `tmp-${n}`) };
  }
  const request = (s: Awaited<ReturnType<typeof snapshot>>, scope: "Full" | "Data" = "Full") => ({
    snapshotsDir,
    store: s.store,
    uri: s.uri,
    manifest: s.manifest,
    tmp: s.tmp,
    scope,
  });
  const refused = (pattern: RegExp) => (e: unknown) =>
    isAteError(e, Code.DataLoss) && pattern.test((e as Error).message);

  it("uses this node's own snapshot in place: nothing copied", async () => {
    const s = await snapshot(join(snapshotsDir, "a", "x", "1"));
    assert.equal(await snapshotFiles(request(s)), join(snapshotsDir, "a", "x", "1"));
    assert.equal(await snapshotFiles(request(s, "Data")), join(snapshotsDir, "a", "x", "1"));
    assert.equal(existsSync(s.tmp), false, "no download");
  });

  it("still refuses an own snapshot whose file is missing, truncated or not a regular file", async () => {
    const dir = join(snapshotsDir, "a", "x", "2");
    const s = await snapshot(dir);
    writeFileSync(join(dir, "data", "vol.tar.gz"), "durable");
    await assert.rejects(snapshotFiles(request(s)), refused(/data\/vol.tar.gz is 7 bytes/));
    rmSync(join(dir, "data", "vol.tar.gz"));
    symlinkSync(join(root, "elsewhere"), join(dir, "data", "vol.tar.gz"));
    await assert.rejects(snapshotFiles(request(s)), refused(/is not a regular file/));
    rmSync(join(dir, "data", "vol.tar.gz"));
    await assert.rejects(
      snapshotFiles(request(s, "Data")),
      refused(/data\/vol.tar.gz is missing.*refusing to restore it/),
    );
    const escaping = {
      ...request(s),
      manifest: manifestFor([{ name: "../1/x", size: 1, sha256: "0".repeat(64) }]),
    };
    await assert.rejects(snapshotFiles(escaping), refused(/bad file name/));
  });

  it("uses a file:// location only root (the agent's user) can write in place, as its own", async () => {
    const dir = join(root, "location", "a", "x", "1");
    const s = await snapshot(dir);
    assert.equal(await snapshotFiles(request(s)), dir);
    assert.equal(existsSync(s.tmp), false, "no download");
    writeFileSync(join(dir, "data", "vol.tar.gz"), "durable");
    await assert.rejects(snapshotFiles(request(s)), refused(/data\/vol.tar.gz is 7 bytes/));
  });

  it("uses one in place under a sticky directory (like /tmp) too", async () => {
    const sticky = join(root, "sticky");
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const s = await snapshot(join(sticky, "mine", "1"));
    assert.equal(await snapshotFiles(request(s)), join(sticky, "mine", "1"));
  });

  it("verifies a root-only location where one file or directory is writable by others", async () => {
    const dir = join(root, "location", "a", "x", "2");
    const s = await snapshot(dir);
    chmodSync(join(dir, "checkpoint", "pages.img"), 0o666);
    assert.equal(await snapshotFiles(request(s)), s.tmp, "downloaded into tmp");
    chmodSync(join(dir, "checkpoint", "pages.img"), 0o600);
    chmodSync(join(dir, "data"), 0o777);
    const again = { ...request(s), tmp: join(root, "tmp-data-dir") };
    assert.equal(await snapshotFiles(again), again.tmp, "downloaded into tmp");
  });

  it("downloads and verifies every other snapshot: a tampered file of the same size is refused", async () => {
    const outside = join(shared, "x", "1");
    const s = await snapshot(outside);
    assert.equal(await snapshotFiles(request(s)), s.tmp, "downloaded into tmp");
    writeFileSync(join(outside, "checkpoint", "pages.img"), "memory PAGES");
    const again = { ...request(s), tmp: join(root, "tmp-again") };
    await assert.rejects(snapshotFiles(again), refused(/checkpoint\/pages.img has sha256/));
  });

  it("treats a path that only looks local (a symlink out of the snapshots) as foreign", async () => {
    const outside = join(shared, "x", "2");
    const s = await snapshot(outside);
    symlinkSync(shared, join(snapshotsDir, "link"));
    const looking = { ...s, uri: pathToFileURL(join(snapshotsDir, "link", "x", "2")).href };
    writeFileSync(join(outside, "data", "vol.tar.gz"), "DURABLE bytes");
    await assert.rejects(
      snapshotFiles({ ...request(looking), store: openBlobStore(looking.uri) }),
      refused(/data\/vol.tar.gz has sha256/),
    );
  });
});
