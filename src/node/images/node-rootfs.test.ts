// The Node.js app root filesystem: host programs added with the libraries they link, and a
// program that is not on this machine refused naming it (before anything is pushed).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { AteError, Code } from "../../errors/index.ts";
import { buildNodeRootfs } from "./node-rootfs.ts";

describe("buildNodeRootfs", () => {
  const dirs: string[] = [];
  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), "ate-rootfs-test-"));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("adds programs by name or path as /usr/bin/<name>, with every library they link", () => {
    const out = fresh();
    buildNodeRootfs(out, { files: { "main.mjs": "" } }, ["sh", "/usr/bin/ls"]);
    for (const name of ["node", "sh", "ls"]) {
      const mode = statSync(join(out, "usr/bin", name)).mode;
      assert.ok(mode & 0o111, `${name} is executable`);
    }
    const libs = execFileSync("ldd", ["/usr/bin/ls"], { encoding: "utf8" })
      .split("\n")
      .map((l) => l.match(/(\/\S+)\s+\(0x/)?.[1])
      .filter((p): p is string => !!p);
    assert.ok(libs.length > 0);
    for (const lib of libs) assert.ok(existsSync(join(out, lib)), `${lib} is in the image`);
    assert.equal(readFileSync(join(out, "app/main.mjs"), "utf8"), "");
  });

  it("refuses a program this machine does not have, naming it", () => {
    for (const program of ["no-such-program-here", "/nowhere/sh", "bin/sh"])
      assert.throws(
        () => buildNodeRootfs(fresh(), { files: {} }, [program]),
        (err: unknown) =>
          err instanceof AteError &&
          err.code === Code.InvalidArgument &&
          err.message.startsWith(`program ${JSON.stringify(program)}: no executable`),
      );
  });
});
