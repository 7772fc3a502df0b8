// `ate gc` against a real state directory (SQLite records and resources, file:// snapshots).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { assertAllResume, setUp } from "../../test/support/gc-state.ts";
import type { CliIO } from "./io.ts";
import { exitCodes, runCli } from "./main.ts";

const dir = mkdtempSync(join(tmpdir(), "ate-gc-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function ate(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: CliIO = {
    out: (t) => {
      out += `${t}\n`;
    },
    write: (t) => {
      out += t;
    },
    err: (t) => {
      err += `${t}\n`;
    },
    stdin: () => "",
    now: () => new Date(),
  };
  return { code: await runCli(argv, io), out, err };
}

it("ate gc prints what it would remove and the bytes, then removes it; never an owned one", async () => {
  const { records, resources } = await setUp(dir);
  await records.store.close();
  await resources.close();
  const dry = await ate("gc", "--dry-run", "--grace", "0s", "--state-dir", dir);
  assert.equal(dry.code, exitCodes.ok, dry.err);
  const lines = dry.out.trim().split("\n");
  // a, b: 2 superseded each; the deleted actor's 3; the leftover; the golden of a gone template.
  assert.equal(lines.filter((l) => l.startsWith("would remove file://")).length, 9, dry.out);
  assert.match(dry.out, /\/t\/a\/20260101T000000Z-\w+ 10 bytes \(unowned\)/);
  assert.match(lines.at(-1) ?? "", /^dry run: would remove 9 snapshot\(s\), \d+ bytes$/);
  // The default grace keeps the fresh leftover; the released ones go at once.
  const real = await ate("gc", "--state-dir", dir);
  assert.equal(real.code, exitCodes.ok, real.err);
  assert.match(real.out, /removed 8 snapshot\(s\), \d+ bytes; \d+ record\(s\) tidied/);
  const zero = await ate("gc", "--grace", "0s", "--state-dir", dir);
  assert.match(zero.out, /removed 1 snapshot\(s\), 10 bytes/);
  const { Records, SqliteRecordStore } = await import("../records/index.ts");
  const reopened = new Records(new SqliteRecordStore(join(dir, "records.db")));
  await assertAllResume(reopened);
  await reopened.store.close();
  const bad = await ate("gc", "--grace", "5 minutes", "--state-dir", dir);
  assert.equal(bad.code, exitCodes.failed);
  assert.match(bad.err, /--grace "5 minutes": give a duration/);
});
