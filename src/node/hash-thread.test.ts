// The hashing thread gives what hashFile gives, and fails as it does.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { hashFile } from "../snapshots/index.ts";
import { hashFileOffThread } from "./hash-thread.ts";

describe("hashFileOffThread", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-hash-thread-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("hashes as hashFile does (empty, small, several pieces), several at once", async () => {
    const files = { empty: Buffer.alloc(0), small: Buffer.from("memory pages") } as Record<
      string,
      Buffer
    >;
    files.big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
    const paths = Object.keys(files).map((n) => join(dir, n));
    const got = await Promise.all(paths.map((p) => hashFileOffThread(p)));
    assert.deepEqual(got, await Promise.all(paths.map((p) => hashFile(p))));
    assert.equal(got[2]?.size, 3 * 1024 * 1024 + 17);
  });

  it("rejects for a missing file, with its code", async () => {
    await assert.rejects(hashFileOffThread(join(dir, "missing")), { code: "ENOENT" });
  });
});
