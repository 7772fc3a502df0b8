// --token-file: read once, trimmed; refused naming the file when others may read it, when empty,
// too large, not a file or not a token.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { readTokenFile } from "./token-file.ts";

describe("token files", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-token-file-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const token = `ate_n1_${"ab".repeat(32)}`;
  const file = (name: string, content: string | Buffer, mode = 0o600) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    chmodSync(path, mode);
    return path;
  };

  it("reads the token, trimmed", () => {
    assert.equal(readTokenFile(file("ok", `  ${token}\n\n`)), token);
    assert.equal(readTokenFile(file("ro", token, 0o400)), token);
  });

  it("refuses files others may read or write, naming the file and the fix", () => {
    for (const mode of [0o640, 0o604, 0o620, 0o666]) {
      const path = file(`m${mode.toString(8)}`, token, mode);
      assert.throws(
        () => readTokenFile(path),
        (e: Error) =>
          e.message ===
          `--token-file ${path}: its mode 0${mode.toString(8)} lets its group or others read or write it: make it its owner's only (chmod 600 ${path})`,
      );
    }
  });

  it("refuses what holds no token", () => {
    const cases: [string, string | Buffer, RegExp][] = [
      ["empty", "", /the file is empty/],
      ["blank", " \n\t\n", /the file is empty/],
      ["junk", "hunter2", /does not hold an ate token/],
      ["two", `${token}\n${token}\n`, /does not hold an ate token/],
      ["huge", Buffer.alloc(1 << 20, 0x61), /larger than 4096 bytes/],
    ];
    for (const [name, content, why] of cases)
      assert.throws(() => readTokenFile(file(name, content)), why, name);
    mkdirSync(join(dir, "a-dir"), { mode: 0o700 });
    assert.throws(() => readTokenFile(join(dir, "a-dir")), /not a regular file/);
    assert.throws(
      () => readTokenFile(join(dir, "missing"), "--token-file"),
      /--token-file .*missing: cannot read it \(ENOENT\)/,
    );
  });
});
