import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { type RunningS3, startS3 } from "../../test/support/s3rver.ts";
import { type BlobStore, openBlobStore } from "../blob/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import {
  committedSnapshot,
  downloadSnapshot,
  hashFile,
  manifestFormatVersion,
  manifestName,
  parseManifest,
  readManifest,
  type SnapshotManifest,
  writeSnapshot,
} from "./index.ts";

const manifestFor = (files: SnapshotManifest["snapshotFiles"]): SnapshotManifest => ({
  formatVersion: manifestFormatVersion,
  scope: "Data",
  actor: { atespace: "a", templateNamespace: "default", templateName: "t", actorId: "x" },
  createdAt: "2025-01-01T00:00:00Z",
  arch: "amd64",
  sandboxClass: "gvisor",
  assets: {},
  images: {},
  workload: { containers: [] },
  snapshotFiles: files,
});

describe("snapshots", () => {
  const root = mkdtempSync(join(tmpdir(), "ate-snapshots-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  /** A snapshot's files written into a fresh local dir, and where its snapshot goes. */
  async function staged() {
    const dir = join(root, `stage-${++n}`);
    mkdirSync(join(dir, "data"), { recursive: true });
    writeFileSync(join(dir, "data", "vol.tar.gz"), "durable bytes");
    const files = [
      { name: "data/vol.tar.gz", ...(await hashFile(join(dir, "data", "vol.tar.gz"))) },
    ];
    const uri = pathToFileURL(join(root, `snap-${n}`)).href;
    return { dir, files, uri };
  }

  it("commits a snapshot with its manifest written last, then reads and verifies it", async () => {
    const { dir, files, uri } = await staged();
    const store = openBlobStore(uri);
    assert.equal(await committedSnapshot(uri), undefined, "nothing there yet");
    await writeSnapshot(store, dir, files, manifestFor(files), { concurrency: 2 });
    const committed = await committedSnapshot(uri);
    assert.equal(committed?.scope, "Data");
    assert.deepEqual(committed, await readManifest(store, uri));
    const into = join(root, `restore-${n}`);
    await downloadSnapshot(store, uri, committed as SnapshotManifest, into, "Data");
    assert.deepEqual(await hashFile(join(into, "data", "vol.tar.gz")), {
      size: files[0]?.size,
      sha256: files[0]?.sha256,
    });
  });

  it("is not committed without a valid manifest: absent, half-written, foreign, too new, too big", async () => {
    const { dir, files, uri } = await staged();
    const store = openBlobStore(uri);
    await writeSnapshot(store, dir, files, manifestFor(files), { concurrency: 1 });
    const withManifest = async (body: string | Buffer) => {
      await store.put(manifestName, Buffer.from(body));
      return committedSnapshot(uri);
    };
    await store.delete(manifestName);
    assert.equal(await committedSnapshot(uri), undefined, "files without a manifest");
    const good = JSON.stringify(manifestFor(files));
    assert.equal(await withManifest(good.slice(0, 40)), undefined, "truncated");
    assert.equal(await withManifest("null"), undefined);
    assert.equal(await withManifest("[1]"), undefined);
    assert.equal(await withManifest(JSON.stringify({ formatVersion: 1 })), undefined);
    assert.equal(
      await withManifest(JSON.stringify({ ...manifestFor(files), formatVersion: 2 })),
      undefined,
    );
    assert.equal(
      await withManifest(JSON.stringify({ ...manifestFor(files), scope: "Everything" })),
      undefined,
    );
    assert.equal(
      await withManifest(JSON.stringify(manifestFor([{ name: "data/x", size: -1, sha256: "zz" }]))),
      undefined,
    );
    assert.equal(await withManifest(Buffer.alloc(9 * 1024 * 1024, 32)), undefined, "oversized");
    assert.ok(await withManifest(good), "and committed again with the real one");
  });

  it("says why a manifest is unusable, naming the snapshot", () => {
    const check = (text: string, code: Code, re: RegExp) =>
      assert.throws(
        () => parseManifest(text, "s3://b/snap"),
        (e: unknown) => isAteError(e, code) && re.test((e as Error).message),
      );
    check("{", Code.DataLoss, /snapshot s3:\/\/b\/snap: manifest.json is not a JSON object/);
    check('{"formatVersion":7}', Code.FailedPrecondition, /manifest format 7 is not supported/);
    check(
      JSON.stringify({ ...manifestFor([]), workload: undefined }),
      Code.DataLoss,
      /lacks workload/,
    );
  });

  it("throws when the storage cannot be asked, rather than guess", async () => {
    const down = {
      uri: "s3://down/x",
      get: async () => {
        throw new AteError(Code.Unavailable, "s3: connection refused");
      },
    } as unknown as BlobStore;
    await assert.rejects(committedSnapshot("s3://down/x", { open: () => down }), (e: unknown) =>
      isAteError(e, Code.Unavailable),
    );
  });

  it("refuses a restore whose files differ from the manifest or escape the snapshot", async () => {
    const { dir, files, uri } = await staged();
    const store = openBlobStore(uri);
    await writeSnapshot(store, dir, files, manifestFor(files), { concurrency: 1 });
    // Same length, other bytes: the hash tells; longer: refused once past the manifest's size.
    await store.put("data/vol.tar.gz", Buffer.from("durable bytez"));
    await assert.rejects(
      downloadSnapshot(store, uri, manifestFor(files), join(root, "t1"), "Data"),
      (e: unknown) =>
        isAteError(e, Code.DataLoss) && /has sha256 .*refusing to restore it/.test(String(e)),
    );
    await store.put("data/vol.tar.gz", Buffer.from("tampered bytes"));
    await assert.rejects(
      downloadSnapshot(store, uri, manifestFor(files), join(root, "t1b"), "Data"),
      (e: unknown) => isAteError(e, Code.DataLoss) && /longer than the 13 bytes/.test(String(e)),
    );
    await store.put("data/vol.tar.gz", Buffer.from("durable"));
    await assert.rejects(
      downloadSnapshot(store, uri, manifestFor(files), join(root, "t1c"), "Data"),
      (e: unknown) => isAteError(e, Code.DataLoss) && /\(7 bytes\)/.test(String(e)),
    );
    const escaping = manifestFor([{ ...(files[0] as (typeof files)[0]), name: "data/../../x" }]);
    await assert.rejects(
      downloadSnapshot(store, uri, escaping, join(root, "t2"), "Data"),
      (e: unknown) => isAteError(e, Code.DataLoss) && /bad file name/.test(String(e)),
    );
  });

  describe("on S3 (s3rver)", () => {
    let s3: RunningS3 | undefined;
    before(async () => {
      s3 = await startS3(["snaps"]);
    });
    after(async () => {
      await s3?.stop();
    });

    it("tells a committed snapshot from an uncommitted one", async () => {
      const { dir, files } = await staged();
      const uri = "s3://snaps/a/x/1";
      await writeSnapshot(openBlobStore(uri), dir, files, manifestFor(files), { concurrency: 2 });
      assert.equal((await committedSnapshot(uri))?.actor.actorId, "x");
      assert.equal(await committedSnapshot("s3://snaps/a/x/2"), undefined);
    });

    it("downloads a snapshot, verified, with stores opened one after another", async () => {
      const { dir, files } = await staged();
      const uri = "s3://snaps/a/x/3";
      await writeSnapshot(openBlobStore(uri), dir, files, manifestFor(files), { concurrency: 2 });
      const store = openBlobStore(uri); // another store of the same location (a restore)
      const manifest = await readManifest(store, uri);
      const to = join(root, "from-s3");
      await downloadSnapshot(store, uri, manifest, to, "Data");
      assert.equal(readFileSync(join(to, "data", "vol.tar.gz"), "utf8"), "durable bytes");
    });
  });
});
