// `ate gc` against a real state directory (SQLite records and resources, file:// snapshots).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
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

it("ate gc --grace takes a whole number and a unit only: nothing negative, fractional or unbounded", async () => {
  const { parseDuration } = await import("./commands/gc.ts");
  assert.equal(parseDuration("0s"), 0);
  assert.equal(parseDuration("0ms"), 0);
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  // The largest: finite, so `now - grace` only ever keeps more (nothing unowned is swept).
  assert.ok(Number.isFinite(parseDuration("999999999d")));
  for (const bad of [
    "-5m",
    "-0s",
    "1.5h",
    "1e3s",
    "0x10s",
    "5",
    "",
    " 5m",
    "5m ",
    "5M",
    "Infinity",
    "NaN",
    "9999999999s",
    "5m\n",
    "1h30m",
  ])
    assert.throws(() => parseDuration(bad), /--grace ".*": give a duration/, JSON.stringify(bad));
  // The refusal echoes at most 40 characters of what it was given.
  assert.throws(
    () => parseDuration("x".repeat(10_000)),
    (e: Error) => e.message.length < 200,
  );
  // Refused before any store is opened: a state directory that does not exist is never made.
  const nowhere = join(dir, "never-made");
  const r = await ate("gc", "--grace", "-1s", "--state-dir", nowhere);
  assert.equal(r.code, exitCodes.failed);
  assert.equal(existsSync(nowhere), false);
});
