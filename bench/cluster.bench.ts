// Resumes per second through `ate router` with one node, then with two, in one run: the real
// commands in hosts on this machine (test/cluster/ate-cluster.ts), snapshots in s3rver. Each
// node has 2 workers; a round sends one request to as many suspended actors as there are
// workers, at once, and times until every one is served (each a restore from S3); the actors
// are suspended again between rounds, untimed. Both nodes share this machine's cores, so the
// ratio shows what the cluster's path costs rather than what more machines would add.

import { type AteCluster, bucket, startAteCluster, waitFor } from "../test/cluster/ate-cluster.ts";
import { counterTemplate } from "../test/support/counter-resources.ts";
import { benchInfo } from "./summary.ts";

const rounds = Number(process.env.ROUNDS ?? 3);
const perNode = 2;
const actors = Array.from({ length: 2 * perNode }, (_, i) => `a${i}`);

function manifests(c: AteCluster, replicas: number): string {
  const template = counterTemplate("counter", { image: c.image, snapshotsDir: "", replicas });
  (template.spec as { snapshotsConfig: unknown }).snapshotsConfig = {
    location: `s3://${bucket}/bench`,
  };
  const pool = {
    apiVersion: "ate.dev/v1alpha1",
    kind: "WorkerPool",
    metadata: { name: "pool", namespace: "default" },
    spec: { replicas, ateomImage: "local" },
  };
  return [pool, template].map((m) => JSON.stringify(m)).join("\n---\n");
}

async function serve(c: AteCluster, ids: string[]): Promise<void> {
  await Promise.all(
    ids.map(async (id) => {
      const res = await fetch(`${c.router}/actors/default/${id}/`, {
        signal: AbortSignal.timeout(120_000),
      });
      const body = await res.text();
      if (res.status !== 200) throw new Error(`${id}: ${res.status} ${body}`);
    }),
  );
}

async function suspend(c: AteCluster, ids: string[]): Promise<void> {
  for (const id of ids)
    await c.control.suspendActor({ actorRef: { atespace: "default", name: id } });
}

/** Resumes per second with `workers` actors resumed at once, `rounds` times. */
async function measure(c: AteCluster, workers: number): Promise<number> {
  const ids = actors.slice(0, workers);
  // Warm-up: each actor restored once here (images pulled, snapshots of their own).
  await serve(c, ids);
  await suspend(c, ids);
  let ms = 0;
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await serve(c, ids);
    ms += performance.now() - t;
    await suspend(c, ids);
  }
  return (workers * rounds) / (ms / 1000);
}

async function freeWorkers(c: AteCluster): Promise<Map<string, number>> {
  const { workers } = await c.control.listWorkers({});
  const by = new Map<string, number>();
  for (const w of workers) if (!w.actorId) by.set(w.nodeName, (by.get(w.nodeName) ?? 0) + 1);
  return by;
}

const c = await startAteCluster({
  prefix: "atcb",
  controlPlanes: ["cp1"],
  nodes: ["n1", "n2"],
  netPrefix: "acb",
  subnetBase: 56,
  maxWorkers: perNode,
});
try {
  await c.startNode("n1");
  await c.ok(["apply", "-f", "-"], manifests(c, perNode));
  await waitFor(
    "the golden snapshot",
    async () =>
      JSON.parse(await c.ok(["get", "actortemplate", "counter", "-o", "json"])).status?.phase ===
      "Ready",
    180_000,
    c.logs,
    1000, // each look runs bin/ate
  );
  for (const id of actors) await c.ok(["create", "actor", id, "-t", "default/counter"]);
  await waitFor(
    "n1's workers free",
    async () => (await freeWorkers(c)).get("n1") === perNode,
    60_000,
    c.logs,
  );
  const one = await measure(c, perNode);

  await c.startNode("n2");
  await c.ok(["apply", "-f", "-"], manifests(c, 2 * perNode));
  await waitFor(
    "both nodes' workers free",
    async () => {
      const by = await freeWorkers(c);
      return by.get("n1") === perNode && by.get("n2") === perNode;
    },
    120_000,
    c.logs,
  );
  const two = await measure(c, 2 * perNode);

  console.log("\ncluster: resumes per second through ate router (restores from S3), this machine");
  console.log(`  one node  (${perNode} workers):  ${one.toFixed(2)}/s`);
  console.log(`  two nodes (${2 * perNode} workers):  ${two.toFixed(2)}/s`);
  console.log(`  two vs one: ${(two / one).toFixed(2)}x (${rounds} rounds each)`);
  benchInfo("cluster-one-node-resumes", one, "per-s");
  benchInfo("cluster-two-node-resumes", two, "per-s");
  benchInfo("cluster-two-vs-one", two / one, "x");
} finally {
  await c.stop();
}
