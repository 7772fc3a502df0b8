import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { after, before, describe, it } from "node:test";
import { type RunningS3, startS3 } from "../../test/support/s3rver.ts";
import { Code, isAteError } from "../errors/index.ts";
import type { BlobStore } from "./blob-store.ts";
import { openBlobStore } from "./factory.ts";
import { FileBlobStore } from "./file-blob-store.ts";

function contract(name: string, open: () => Promise<BlobStore>, close: () => Promise<void>) {
  describe(`${name} blob store`, () => {
    let store: BlobStore;
    before(async () => {
      store = await open();
    });
    after(close);

    it("puts buffers and streams, and reads them back", async () => {
      await store.put("a/b/one", Buffer.from("hello"));
      const big = Buffer.alloc(12 * 1024 * 1024, 7);
      await store.put("a/b/big", Readable.from([big.subarray(0, 5e6), big.subarray(5e6)]));
      assert.equal((await buffer(await store.get("a/b/one"))).toString(), "hello");
      assert.ok((await buffer(await store.get("a/b/big"))).equals(big));
      assert.deepEqual(await store.stat("a/b/one"), { key: "a/b/one", size: 5 });
    });

    it("lists by prefix in order, and deletes", async () => {
      await store.put("l/x/2", Buffer.from("2"));
      await store.put("l/x/1", Buffer.from("1"));
      await store.put("l/y", Buffer.from("3"));
      assert.deepEqual(
        (await store.list("l/x/")).map((b) => b.key),
        ["l/x/1", "l/x/2"],
      );
      await store.delete("l/x/1");
      assert.deepEqual(
        (await store.list("l/")).map((b) => b.key),
        ["l/x/2", "l/y"],
      );
    });

    it("reports missing blobs as NOT_FOUND", async () => {
      assert.equal(await store.stat("missing"), undefined);
      await assert.rejects(store.get("missing"), (e) => isAteError(e, Code.NotFound));
    });

    it("rejects keys that escape the location", async () => {
      await assert.rejects(store.put("../x", Buffer.from("")), /not a clean relative path/);
    });
  });
}

let dir = "";
contract(
  "file",
  async () => {
    dir = mkdtempSync(join(tmpdir(), "ate-blob-"));
    return openBlobStore(`file://${dir}/snapshots`);
  },
  async () => rmSync(dir, { recursive: true, force: true }),
);

let s3: RunningS3 | undefined;
contract(
  "s3",
  async () => {
    s3 = await startS3(["snapshots"]);
    return openBlobStore("s3://snapshots/team/a");
  },
  async () => s3?.stop(),
);

describe("file blob store modes", () => {
  it("writes blobs 0600 in new directories 0700 (snapshots are root's)", async () => {
    const root = mkdtempSync(join(tmpdir(), "ate-blob-modes-"));
    try {
      const store = openBlobStore(`file://${root}/snapshots`);
      await store.put("a/b/checkpoint.img", Buffer.from("memory"));
      for (const d of ["snapshots", "snapshots/a", "snapshots/a/b"])
        assert.equal(statSync(join(root, d)).mode & 0o777, 0o700, d);
      assert.equal(statSync(join(root, "snapshots/a/b/checkpoint.img")).mode & 0o777, 0o600);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("file blob store putFile", () => {
  it("links a local file into place (no copy, 0600), leaving it where it was", async () => {
    const root = mkdtempSync(join(tmpdir(), "ate-blob-putfile-"));
    try {
      const local = join(root, "pages.img");
      writeFileSync(local, "memory pages", { mode: 0o644 });
      const store = new FileBlobStore(join(root, "snapshots"));
      await store.putFile("a/checkpoint/pages.img", local);
      const stored = join(root, "snapshots", "a", "checkpoint", "pages.img");
      assert.equal(statSync(stored).ino, statSync(local).ino, "the same file, not a copy");
      assert.equal(statSync(stored).mode & 0o777, 0o600);
      assert.equal(readFileSync(local, "utf8"), "memory pages", "still there for the caller");
      rmSync(local); // as takeSnapshot removes its tmp dir
      assert.equal(
        (await buffer(await store.get("a/checkpoint/pages.img"))).toString(),
        "memory pages",
      );
      assert.deepEqual(
        (await store.list("a/")).map((b) => b.key),
        ["a/checkpoint/pages.img"],
        "no temp name left",
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("copies where no hard link can be made (another filesystem)", async () => {
    const root = mkdtempSync(join(tmpdir(), "ate-blob-putfile-"));
    const shm = mkdtempSync("/dev/shm/ate-blob-putfile-");
    try {
      const local = join(shm, "pages.img");
      writeFileSync(local, "memory pages");
      const store = new FileBlobStore(join(root, "snapshots"));
      await store.putFile("pages.img", local);
      const stored = join(root, "snapshots", "pages.img");
      if (statSync(stored).dev !== statSync(local).dev)
        assert.notEqual(statSync(stored).ino, statSync(local).ino);
      assert.equal(readFileSync(stored, "utf8"), "memory pages");
      assert.equal(statSync(stored).mode & 0o777, 0o600);
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(shm, { recursive: true, force: true });
    }
  });
});
