// The collector killed with SIGKILL at every step that changes storage or records (each step's
// first occurrence, in a process of its own: a child costs seconds to start), then: every
// actor's latest snapshot and every tag's copy is still committed with all its files, and a
// collector run after it finishes the work (what was garbage goes, nothing else).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { assertAllResume, setUp } from "../../test/support/gc-state.ts";
import { openBlobStore } from "../blob/index.ts";
import { collectGarbage } from "./gc.ts";

const root = mkdtempSync(join(tmpdir(), "ate-gc-crash-"));
after(() => rmSync(root, { recursive: true, force: true }));
const child = join(import.meta.dirname, "../../test/support/gc-crash-child.ts");

const steps = [
  "delete-golden-actor",
  "delete-snapshot",
  "delete-object",
  "trim-history",
  "delete-orphans",
];

describe("snapshot gc killed with SIGKILL", () => {
  for (const step of steps)
    it(`at ${step} loses nothing any record points at`, async () => {
      // delete-object 2 is the interesting one: a snapshot's manifest gone, its file not yet.
      for (const n of step === "delete-object" ? [1, 2] : [1]) {
        const dir = mkdtempSync(join(root, `${step}-${n}-`));
        const { records, resources } = await setUp(dir);
        const r = spawnSync(process.execPath, ["--import", "tsx", child, dir], {
          env: { ...process.env, ATE_GC_CRASH_AT: `${step}:${n}` },
          encoding: "utf8",
        });
        if (r.status === 0) break; // the step comes fewer than n times: done with it
        assert.equal(r.signal, "SIGKILL", `${step}:${n}: ${r.stderr}`);
        await assertAllResume(records);
        // The next run finishes what the killed one started.
        await collectGarbage({ records, resources, graceMs: 0 });
        await assertAllResume(records);
        const left = await openBlobStore(pathToFileURL(join(dir, "snapshots")).href).list("");
        // a, b: latest; tag copy: 3 snapshots of 2 files each, and nothing else.
        assert.equal(left.length, 6, left.map((b) => b.key).join(" "));
        assert.equal((await records.orphanedSnapshots()).length, 0);
        for (const a of (await records.listActors()).actors) assert.equal(a.snapshots?.length, 1);
        await records.store.close();
        await resources.close();
      }
    });
});
