// Control-plane throughput and record latency, on SQLite and on Redis, measured in one run.
// The node agent here does NO sandbox work (NoopNodeAgent): these numbers are the control
// plane's own cost (records, CAS, scheduling), not actor start times.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane, StaticNodeDirectory } from "../src/controlplane/index.ts";
import {
  type RecordStore,
  Records,
  type RecordWrite,
  RedisRecordStore,
  SqliteRecordStore,
} from "../src/records/index.ts";
import { SqliteResourceStore } from "../src/resources/index.ts";
import { NoopNodeAgent } from "../test/support/noop-node-agent.ts";
import { declareNoopPool } from "../test/support/noop-pool.ts";
import { startRedis } from "../test/support/redis.ts";
import { benchInfo } from "./summary.ts";

const actorsForLatency = Number(process.env.ACTORS ?? 1_000_000);
const transitions = Number(process.env.TRANSITIONS ?? 4000);
const workers = 50;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] as number;
const dir = mkdtempSync(join(tmpdir(), "ate-cp-bench-"));
const redis = await startRedis();

async function measure(name: string, store: RecordStore): Promise<void> {
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(store);
  await store.clear();
  const agent = new NoopNodeAgent();
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
  });
  await declareNoopPool(resources, records, agent, { replicas: workers });
  await cp.createAtespace("bench");
  for (let i = 0; i < workers; i++)
    await cp.createActor({ atespace: "bench", name: `t${i}` }, "default", "counter");

  // Transitions: each of `workers` actors cycles resume → suspend, all concurrently.
  const start = performance.now();
  const perActor = Math.ceil(transitions / 2 / workers);
  await Promise.all(
    Array.from({ length: workers }, async (_, i) => {
      const ref = { atespace: "bench", name: `t${i}` };
      for (let k = 0; k < perActor; k++) {
        await cp.resumeActor(ref);
        await cp.suspendActor(ref);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const done = perActor * workers * 2;

  // Many actors: bulk-load records, then time gets and list pages.
  const load = performance.now();
  for (let i = 0; i < actorsForLatency; i += 1000) {
    const batch: RecordWrite[] = [];
    for (let j = i; j < Math.min(i + 1000, actorsForLatency); j++) {
      const actorId = `a${String(j).padStart(7, "0")}`;
      batch.push({
        kind: "actor",
        key: `bench/${actorId}`,
        expectVersion: 0,
        value: {
          atespace: "bench",
          actorId,
          templateNamespace: "default",
          templateName: "counter",
          status: "SUSPENDED",
          createdAt: new Date(0).toISOString(),
        },
      });
    }
    await store.commit(batch);
  }
  const loadSeconds = (performance.now() - load) / 1000;
  const gets: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const id = `a${String(Math.floor(Math.random() * actorsForLatency)).padStart(7, "0")}`;
    const t = performance.now();
    await cp.getActor({ atespace: "bench", name: id });
    gets.push(performance.now() - t);
  }
  const pages: number[] = [];
  let token = "";
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    const page = await cp.listActors(1000, token, "bench");
    pages.push(performance.now() - t);
    token = page.nextPageToken;
  }
  console.log(
    `${name.padEnd(7)} transitions/s ${(done / seconds).toFixed(0).padStart(6)} (${done} with ${workers} actors in parallel)   ` +
      `get p50 ${pct(gets, 0.5).toFixed(2)} ms p99 ${pct(gets, 0.99).toFixed(2)} ms   ` +
      `list page(1000) p50 ${pct(pages, 0.5).toFixed(1)} ms p99 ${pct(pages, 0.99).toFixed(1)} ms   ` +
      `(${actorsForLatency} actors loaded in ${loadSeconds.toFixed(1)} s)`,
  );
  benchInfo(`control-plane-${name}-transitions`, done / seconds, "per-s");
  benchInfo(`control-plane-${name}-get-p99`, pct(gets, 0.99), "ms");
  benchInfo(`control-plane-${name}-list-page-p99`, pct(pages, 0.99), "ms");
  await store.clear();
  await resources.close();
  await store.close();
}

try {
  console.log("control plane with a node agent that does no work (sandbox cost excluded)");
  await measure("sqlite", new SqliteRecordStore(join(dir, "records.db")));
  await measure("redis", new RedisRecordStore({ url: redis.url }));
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
