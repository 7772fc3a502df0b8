// The collector killed with SIGKILL at every step that changes storage or records (each step's
// first occurrence, in a process of its own: a child costs seconds to start), then: every
// actor's latest snapshot (a paused one's on its node) and every tag's copy is still committed
// with all its files, and a collector run after it finishes the work (what was garbage goes,
// on the node too, nothing else).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { assertAllResume, nodeOf, setUp } from "../../test/support/gc-state.ts";
import { openBlobStore } from "../blob/index.ts";
import { NodeLayout } from "../node/layout.ts";
import { listLocalSnapshots } from "../node/local-snapshots.ts";
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
  "delete-node-snapshot",
];

describe("snapshot gc killed with SIGKILL", () => {
  for (const step of steps)
    it(`at ${step} loses nothing any record points at`, async () => {
      // delete-object 2 is the interesting one: a snapshot's manifest gone, its file not yet.
      for (const n of step === "delete-object" ? [1, 2] : [1]) {
        const dir = mkdtempSync(join(root, `${step}-${n}-`));
        const { records, resources } = await setUp(dir, { node: true });
        const r = spawnSync(process.execPath, ["--import", "tsx", child, dir, "--node"], {
          env: { ...process.env, ATE_GC_CRASH_AT: `${step}:${n}` },
          encoding: "utf8",
        });
        if (r.status === 0 && n > 1) break; // the step comes fewer than n times: done with it
        assert.equal(r.signal, "SIGKILL", `${step}:${n}: ${r.stderr}`);
        await assertAllResume(records);
        // The next run finishes what the killed one started.
        await collectGarbage({ records, resources, graceMs: 0, nodes: nodeOf(dir) });
        await assertAllResume(records);
        const left = await openBlobStore(pathToFileURL(join(dir, "snapshots")).href).list("");
        // a, b, p's last external: latest; tag copy: 4 snapshots of 2 files each, nothing else.
        assert.equal(left.length, 8, left.map((b) => b.key).join(" "));
        // On the node, only the snapshot paused p is at.
        const local = await listLocalSnapshots(new NodeLayout(join(dir, "node")));
        const p = await records.getActor("t", "p");
        assert.deepEqual(
          local.snapshots.map((s) => s.uri.replace(/\/$/, "")),
          [p.latestSnapshot?.uri.replace(/\/$/, "")],
        );
        assert.equal((await records.orphanedSnapshots()).length, 0);
        for (const a of (await records.listActors()).actors) assert.equal(a.snapshots?.length, 1);
        await records.store.close();
        await resources.close();
      }
    });
});
