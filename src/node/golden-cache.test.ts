import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { type BlobStore, openBlobStore } from "../blob/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { hashFile, manifestFormatVersion, type SnapshotManifest } from "../snapshots/index.ts";
import { goldenActorId, goldenAtespace } from "./golden.ts";
import { goldenFiles } from "./golden-cache.ts";

describe("golden cache", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-golden-cache-"));
  const cache = join(dir, "state", "goldens");
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A golden snapshot at dir/<name>: one checkpoint file and a data archive. */
  const golden = async (name: string, body: string) => {
    const at = join(dir, name);
    mkdirSync(join(at, "checkpoint"), { recursive: true });
    mkdirSync(join(at, "data"), { recursive: true });
    writeFileSync(join(at, "checkpoint", "pages.img"), body);
    writeFileSync(join(at, "data", "data.tar.gz"), "data");
    const manifest: SnapshotManifest = {
      formatVersion: manifestFormatVersion,
      scope: "Full",
      actor: {
        atespace: goldenAtespace,
        actorId: goldenActorId("default", "counter"),
        templateNamespace: "default",
        templateName: "counter",
      },
      createdAt: "2025-01-01T00:00:00Z",
      arch: "amd64",
      sandboxClass: "gvisor",
      assets: {},
      images: {},
      workload: { containers: [] },
      snapshotFiles: [
        { name: "checkpoint/pages.img", ...(await hashFile(join(at, "checkpoint", "pages.img"))) },
      ],
    };
    const uri = pathToFileURL(at).href;
    return { at, uri, manifest, store: openBlobStore(uri) };
  };
  let n = 0;
  const files = (g: { uri: string; manifest: SnapshotManifest; store: BlobStore }) =>
    goldenFiles(cache, {
      ...g,
      snapshotsDir: join(dir, "state", "snapshots"),
      tmp: join(dir, "tmp", String(n++)),
      scope: "Full",
    });

  it("downloads and verifies a golden once, then restores from the kept copy", async () => {
    const g = await golden("g1", "memory pages");
    const first = await files(g);
    assert.ok(first.startsWith(cache));
    assert.equal(readFileSync(join(first, "checkpoint", "pages.img"), "utf8"), "memory pages");
    assert.equal(statSync(first).mode & 0o777, 0o700, "root's alone");
    rmSync(g.at, { recursive: true }); // gone from its store: the kept copy serves
    assert.equal(await files(g), first);
  });

  it("keeps each snapshot apart: another URI listing the same sha256s downloads its own", async () => {
    const g = await golden("g2", "memory pages");
    const other = await golden("g3", "other pages");
    // g3's manifest claims g2's files: without them in its own store, it is refused.
    await assert.rejects(
      files({ ...other, manifest: g.manifest }),
      (e) => isAteError(e, Code.DataLoss) && /sha256/.test((e as Error).message),
    );
    assert.notEqual(await files(g), await files(other));
  });

  it("fetches and verifies again a kept copy whose file changed size", async () => {
    const g = await golden("g4", "memory pages");
    const kept = await files(g);
    writeFileSync(join(kept, "checkpoint", "pages.img"), "truncated");
    assert.equal(await files(g), kept);
    assert.equal(readFileSync(join(kept, "checkpoint", "pages.img"), "utf8"), "memory pages");
    rmSync(g.at, { recursive: true });
    writeFileSync(join(kept, "checkpoint", "pages.img"), "truncated");
    await assert.rejects(
      files(g),
      (e) => isAteError(e, Code.NotFound) || isAteError(e, Code.DataLoss),
    );
  });
});
