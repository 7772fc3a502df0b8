// Disk used by one actor's snapshots under many suspend/resume cycles: bounded by its history
// (ate.dev/snapshot-history, default 1), not growing with every suspend. The node agent writes
// a real 1 MiB snapshot to a file:// location at each suspend but runs no sandbox (the cost
// measured is storage, not restore time). ATE_BENCH_GC_CYCLES=10000 for the full soak.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { actorTemplate } from "../src/api/testing.ts";
import { ActorTemplateType } from "../src/api/v1alpha1/index.ts";
import { openBlobStore } from "../src/blob/index.ts";
import { ControlPlane, collectGarbage, StaticNodeDirectory } from "../src/controlplane/index.ts";
import { Records, SqliteRecordStore } from "../src/records/index.ts";
import { SqliteResourceStore } from "../src/resources/index.ts";
import { declareNoopPool } from "../test/support/noop-pool.ts";
import { WritingNodeAgent } from "../test/support/writing-node-agent.ts";
import { benchInfo, benchLine } from "./summary.ts";

const cycles = Number(process.env.ATE_BENCH_GC_CYCLES ?? 200);
const snapshotBytes = 1 << 20;
const dir = mkdtempSync(join(tmpdir(), "ate-gc-bench-"));
const location = pathToFileURL(join(dir, "snapshots")).href;
const records = new Records(new SqliteRecordStore(join(dir, "records.db")));
const resources = new SqliteResourceStore({ path: ":memory:" });
const agent = new WritingNodeAgent(snapshotBytes);
try {
  await declareNoopPool(resources, records, agent, { replicas: 1 });
  await resources.delete(ActorTemplateType, "default", "counter"); // its location is the machine's
  await resources.create(ActorTemplateType, {
    ...actorTemplate("c"),
    spec: {
      ...(actorTemplate("c").spec as Record<string, unknown>),
      snapshotsConfig: { location },
    },
  });
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
  });
  await cp.createAtespace("bench");
  const ref = { atespace: "bench", name: "soak" };
  await cp.createActor(ref, "default", "c");
  const used = async () => (await openBlobStore(location).list("")).reduce((n, b) => n + b.size, 0);
  await cp.resumeActor(ref);
  await cp.suspendActor(ref);
  const before = await used();
  const start = performance.now();
  for (let i = 1; i < cycles; i++) {
    await cp.resumeActor(ref);
    await cp.suspendActor(ref);
  }
  const seconds = (performance.now() - start) / 1000;
  const after = await used();
  const gc = await collectGarbage({ records, resources, graceMs: 0 });
  const history = (await records.getActor("bench", "soak")).snapshots?.length ?? 0;
  console.log(
    `${cycles} suspend/resume cycles of a ${snapshotBytes}-byte snapshot in ${seconds.toFixed(1)} s: ${before} bytes after the first, ${after} after the last (${cycles * snapshotBytes} written); gc then removed ${gc.bytes}; history ${history}`,
  );
  benchInfo("gc.bytes-before", before, "bytes");
  benchLine("gc.bytes-after", after, "bytes", "<=", 2 * before);
  benchLine("gc.history-entries", history, "entries", "<=", 1);
} finally {
  await records.store.close();
  await resources.close();
  rmSync(dir, { recursive: true, force: true });
}
