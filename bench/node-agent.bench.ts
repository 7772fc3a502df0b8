// Checkpoint and restore of one counter actor: the node agent against raw runsc on the same
// actor (same image, bundle, mounts, runsc binary and flags), measured in one run on this
// machine. Prints p50s and the agent/raw ratios as summary lines (bench/summary.ts).
//
// What each side includes:
// - agent checkpoint: NodeAgent.checkpoint to a local snapshot: connection drain, runsc
//   checkpoint (uncompressed, as local snapshots are), durableDir tar, hashing, manifest,
//   the move into the node's snapshots. Not the sandbox's tear-down, which runs after it
//   returns (in the background, as in the agent).
// - raw checkpoint: `runsc checkpoint --compression=none` of a running sandbox, nothing else.
// - agent restore: NodeAgent.restore of that snapshot onto another worker: manifest read,
//   checks, runtime and image lookup, volumes, data unpack, record, runsc restore, and the
//   actor's readyz answering 200.
// - raw restore: `runsc restore --detach` into a fresh namespace, then the same readyz probe
//   (src/node/readiness.ts) until it answers 200: to the first byte of the actor's answer.
// The raw sandboxes run in a worker of their own that the agent never starts anything in: a
// sandbox the driver started and raw runsc checkpointed would count, for the driver, as one
// that stopped on its own, and its clean-up would race the bench's (the old failure,
// `Cannot find device "gw0"`).
// ATE_LOG=debug prints the agent's steps (`checkpoint.*`, `restore.*`) with their durations.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jsonLogger } from "../src/log/index.ts";
import { NodeAgent } from "../src/node/index.ts";
import { waitReady } from "../src/node/readiness.ts";
import { Runsc } from "../src/sandbox/gvisor/runsc.ts";
import { GvisorDriver } from "../src/sandbox/index.ts";
import { pushCounterImage } from "../test/support/counter-image.ts";
import { getJson } from "../test/support/http.ts";
import { startRegistry } from "../test/support/registry.ts";
import { copyBundle, counterActor, counterWorkload, machineRunscAssets } from "./counter-actor.ts";
import { benchInfo, benchLine, quantile } from "./summary.ts";

const rounds = Number(process.env.ROUNDS ?? 7);
const dir = mkdtempSync(join(tmpdir(), "ate-bench-"));
const state = join(dir, "state");
const driver = new GvisorDriver({ stateDir: state, network: { prefix: "ateb", subnetBase: 220 } });
const agent = new NodeAgent({
  stateDir: state,
  drivers: [driver],
  // The runtime below is the machine's runsc: file:// assets are read only from allowed dirs.
  assetDirs: ["/usr/bin"],
  logger: jsonLogger(process.env.ATE_LOG === "debug" ? "debug" : "warn"),
});
const registry = await startRegistry();
const p50 = (xs: number[]) => quantile(xs, 0.5);
const time = async (f: () => Promise<unknown> | unknown) => {
  const t = performance.now();
  await f();
  return performance.now() - t;
};
let rawRunsc: Runsc | undefined;
let rawId: string | undefined;

try {
  const image = await pushCounterImage(registry.host);
  const assets = machineRunscAssets();
  const workload = counterWorkload(image);
  const actor = counterActor("b1");
  const a = await agent.createWorker("ba");
  await agent.createWorker("bb");
  const c = await agent.createWorker("bc");
  const rawIndex = Array.from({ length: driver.networks.capacity }, (_, i) => i).find(
    (i) => driver.networks.addresses(i).worker === c.address,
  ) as number;
  const runscRoot = join(state, "runsc");
  const cachedRunsc = agent.assets.path(assets.assets.amd64.runsc.sha256);
  // The same runsc binary, root, flags and /proc/sys workaround the driver uses.
  const raw = new Runsc(cachedRunsc, runscRoot);
  rawRunsc = raw;
  const rawLog = join(dir, "raw.log");
  const ready = (address: string) => waitReady(address, 8080, "/readyz", 20_000);

  const agentCk: number[] = [];
  const agentRs: number[] = [];
  const rawCk: number[] = [];
  const rawRs: number[] = [];
  let rawBundle = "";
  for (let i = 0; i < rounds; i++) {
    // The agent: checkpoint to a local snapshot, restore it onto the other worker.
    await agent.run({ worker: "ba", actor, workload, sandboxAssets: assets });
    if (!rawBundle)
      rawBundle = copyBundle(
        join(state, "bundles", "ba"),
        join(dir, "raw"),
        driver.networks.sandboxNsPath(rawIndex),
      );
    await getJson(`http://${a.address}:8080/count`);
    let uri = "";
    agentCk.push(
      await time(async () => {
        uri = (
          await agent.checkpoint({
            worker: "ba",
            actor,
            scope: "Full",
            destination: { kind: "local" },
          })
        ).uri;
      }),
    );
    agentRs.push(
      await time(() => agent.restore({ worker: "bb", actor, source: uri, scope: "Full" })),
    );
    await agent.stop("bb");

    // Raw runsc on the same actor: a copy of the agent's bundle, in the raw worker's namespace.
    const id = `braw${i}`;
    const img = join(dir, `raw-${i}`);
    await driver.networks.resetSandbox(rawIndex);
    rawId = id;
    const fg = raw.launch(id, { bundle: rawBundle }, rawLog);
    await fg.started;
    await ready(c.address);
    await getJson(`http://${c.address}:8080/count`);
    rawCk.push(await time(() => raw.checkpoint(id, img, false)));
    await fg.exited;
    await raw.delete(id);
    await driver.networks.resetSandbox(rawIndex);
    rawRs.push(
      await time(async () => {
        await raw.restore(id, rawBundle, img, rawLog);
        await ready(c.address);
      }),
    );
    await raw.kill(id);
    await raw.delete(id);
    rawId = undefined;
    rmSync(img, { recursive: true, force: true });
  }
  console.log(
    `node agent vs raw runsc, ${rounds} rounds, counter actor (node + libs, ~100 MB rootfs)`,
  );
  const line = (what: string, ours: number[], theirs: number[]) =>
    console.log(
      `${what.padEnd(11)} agent p50 ${p50(ours).toFixed(0).padStart(5)} ms   raw runsc p50 ${p50(theirs).toFixed(0).padStart(5)} ms   ratio ${(p50(ours) / p50(theirs)).toFixed(2)}   (agent ${ours.map((x) => x.toFixed(0)).join(" ")}; raw ${theirs.map((x) => x.toFixed(0)).join(" ")})`,
    );
  line("checkpoint", agentCk, rawCk);
  line("restore", agentRs, rawRs);
  benchInfo("agent-checkpoint-p50", p50(agentCk), "ms");
  benchInfo("raw-checkpoint-p50", p50(rawCk), "ms");
  benchLine("agent-checkpoint-ratio", p50(agentCk) / p50(rawCk), "x", "<=", 1.5);
  benchInfo("agent-restore-p50", p50(agentRs), "ms");
  benchInfo("raw-restore-p50", p50(rawRs), "ms");
  benchLine("agent-restore-ratio", p50(agentRs) / p50(rawRs), "x", "<=", 1.15);
} finally {
  if (rawRunsc && rawId) await rawRunsc.delete(rawId).catch(() => {});
  await agent.deleteWorker("ba").catch(() => {});
  await agent.deleteWorker("bb").catch(() => {});
  await agent.deleteWorker("bc").catch(() => {});
  await registry.stop();
  rmSync(dir, { recursive: true, force: true });
}
