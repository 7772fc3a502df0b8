import assert from "node:assert/strict";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fixModesSync, prepareSqliteFile, privateDir, privateTree } from "./private-files.ts";

const mode = (p: string) => statSync(p).mode & 0o777;

describe("private files", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-private-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("creates directories 0700 and makes existing ones 0700", async () => {
    await privateDir(join(dir, "a", "b"));
    assert.equal(mode(join(dir, "a")), 0o700);
    assert.equal(mode(join(dir, "a", "b")), 0o700);
    chmodSync(join(dir, "a", "b"), 0o755);
    await privateDir(join(dir, "a", "b"));
    assert.equal(mode(join(dir, "a", "b")), 0o700);
  });

  it("makes a tree private without following symlinks", async () => {
    const t = join(dir, "tree");
    mkdirSync(join(t, "sub"), { recursive: true, mode: 0o755 });
    writeFileSync(join(t, "sub", "mem.img"), "x", { mode: 0o644 });
    const target = join(dir, "elsewhere");
    writeFileSync(target, "y", { mode: 0o644 });
    symlinkSync(target, join(t, "link"));
    await privateTree(t);
    assert.equal(mode(join(t, "sub")), 0o700);
    assert.equal(mode(join(t, "sub", "mem.img")), 0o600);
    assert.equal(mode(target), 0o644, "a symlink's target is not touched");
  });

  it("prepares SQLite files 0600 (new or from an older version, with -wal and -shm)", () => {
    const db = join(dir, "new", "x.db");
    prepareSqliteFile(db);
    assert.equal(mode(join(dir, "new")), 0o700);
    assert.equal(mode(db), 0o600);
    const old = join(dir, "old.db");
    for (const f of [old, `${old}-wal`, `${old}-shm`]) writeFileSync(f, "", { mode: 0o644 });
    prepareSqliteFile(old);
    for (const f of [old, `${old}-wal`, `${old}-shm`]) assert.equal(mode(f), 0o600, f);
    assert.equal(mode(dir), 0o700, "an existing directory is the user's: left as it is");
    prepareSqliteFile(":memory:");
  });

  it("fixes the modes of what exists and skips what does not", () => {
    writeFileSync(join(dir, "f"), "", { mode: 0o644 });
    mkdirSync(join(dir, "d"), { mode: 0o755 });
    fixModesSync({ dirs: [join(dir, "d"), join(dir, "nope")], files: [join(dir, "f")] });
    assert.equal(mode(join(dir, "d")), 0o700);
    assert.equal(mode(join(dir, "f")), 0o600);
  });
});
