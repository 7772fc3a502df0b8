import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Code, isAteError } from "../errors/index.ts";
import { assetDirsFor } from "./default-runtime.ts";

describe("the directories ate up reads file:// assets from", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-asset-dirs-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("are the named ones plus the real directory of the runsc in use", () => {
    mkdirSync(join(dir, "bin"));
    mkdirSync(join(dir, "opt"));
    writeFileSync(join(dir, "bin", "runsc"), "");
    symlinkSync(join(dir, "bin", "runsc"), join(dir, "runsc-link"));
    assert.deepEqual(assetDirsFor([join(dir, "opt")], join(dir, "runsc-link")), [
      join(dir, "opt"),
      join(dir, "bin"),
    ]);
    assert.deepEqual(assetDirsFor([], undefined), []);
    assert.deepEqual(assetDirsFor([join(dir, "bin")], join(dir, "bin", "runsc")), [
      join(dir, "bin"),
    ]);
  });

  it("refuse a --asset-dir that is not a directory", () => {
    assert.throws(
      () => assetDirsFor([join(dir, "nope")], undefined),
      (e) =>
        isAteError(e, Code.InvalidArgument) &&
        /--asset-dir ".*nope": not a directory/.test(String(e)),
    );
  });
});
