// The router, measured in one run: resume-on-request (a request to a suspended actor, to its
// first byte) against raw `runsc restore` of the same snapshot, swaps (requests to more actors
// than workers, each evicting one), and routed against direct requests to a running actor.
// Ratios use medians; p95s are printed too.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../src/log/index.ts";
import { WorkerNetworks } from "../src/sandbox/gvisor/index.ts";
import { Runsc } from "../src/sandbox/gvisor/runsc.ts";
import { startSubstrate } from "../src/up/index.ts";
import { pushCounterImage } from "../test/support/counter-image.ts";
import { applyCounterSetup, waitForGolden } from "../test/support/counter-resources.ts";
import { startRegistry } from "../test/support/registry.ts";

const rounds = Number(process.env.ROUNDS ?? 7);
const dir = mkdtempSync(join(tmpdir(), "ate-router-bench-"));
const state = join(dir, "state");
const network = { prefix: "atebr", subnetBase: 150 };
const registry = await startRegistry();
const ate = await startSubstrate({
  runsc: false, // applyCounterSetup declares the runtime
  stateDir: state,
  apiAddr: "127.0.0.1:0",
  routerAddr: "127.0.0.1:0",
  nodeName: "n1",
  network,
  idleTimeoutMs: 0,
  logger: silentLogger,
});
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] as number;
const router = new URL(ate.routerUrl);

/** Milliseconds to the first byte of a GET. */
function timeGet(host: string, port: number, path: string, hostHeader?: string): Promise<number> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, path, agent: false, headers: hostHeader ? { host: hostHeader } : {} },
      (res) => {
        res.once("data", () => resolve(performance.now() - t));
        res.resume();
      },
    );
    req.on("error", reject);
    req.end();
  });
}

try {
  const image = await pushCounterImage(registry.host);
  await applyCounterSetup(ate.resources, {
    image,
    snapshotsDir: join(dir, "snapshots"),
    replicas: 1,
  });
  await waitForGolden(ate.resources, ["counter"]);
  const cp = ate.controlPlane;
  await cp.createAtespace("bench");
  const ref = { atespace: "bench", name: "a" };
  await cp.createActor(ref, "default", "counter");
  const host = "a.bench.actors.resources.substrate.ate.dev";

  const resumeOnRequest: number[] = [];
  const rawRestore: number[] = [];
  for (let i = 0; i < rounds; i++) {
    resumeOnRequest.push(await timeGet(router.hostname, Number(router.port), "/count", host));
    const suspended = await cp.suspendActor(ref);
    // Raw runsc restore of that same snapshot, into the worker's fresh namespace and bundle.
    const [worker] = (await cp.listWorkers()).map((w) => w.name);
    const snapshot = fileURLToPath(suspended.latestSnapshot?.uri ?? "");
    const workerDir = join(state, "node", "workers", worker as string);
    mkdirSync(join(workerDir, "identity"), { recursive: true });
    writeFileSync(join(workerDir, "identity", "actor-id"), "a");
    mkdirSync(join(workerDir, "volumes", "data"), { recursive: true });
    const img = join(dir, `img-${i}`);
    cpSync(join(snapshot, "checkpoint"), img, { recursive: true });
    const root = join(state, "node", "runsc");
    const address = (await ate.agent.listWorkers())[0]?.address as string;
    // The agent tears the stopped sandbox down in the background; let it finish first.
    await new Promise((r) => setTimeout(r, 3000));
    const t = performance.now();
    await new Runsc("/usr/bin/runsc", root).restore(
      "raw",
      join(state, "node", "bundles", worker as string),
      img,
      join(dir, "raw.log"),
    );
    for (const deadline = Date.now() + 20_000; ; ) {
      try {
        await timeGet(address, 8080, "/peek");
        break;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`the raw restore did not answer at ${address}: ${err}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    rawRestore.push(performance.now() - t);
    execFileSync("/usr/bin/runsc", [`--root=${root}`, "delete", "--force", "raw"]);
    rmSync(workerDir, { recursive: true, force: true });
    await new WorkerNetworks(network).resetSandbox(0);
  }

  // Swaps: requests round robin over 3 actors on the one worker, each waiting while the
  // control plane evicts the one that ran last (a checkpoint) and resuming its own (a restore).
  const swapActors = ["s0", "s1", "s2"];
  for (const name of swapActors)
    await cp.createActor({ atespace: "bench", name }, "default", "counter");
  const swaps: number[] = [];
  for (let i = 0; i < rounds * swapActors.length; i++) {
    const name = swapActors[i % swapActors.length] as string;
    const hostHeader = `${name}.bench.actors.resources.substrate.ate.dev`;
    swaps.push(await timeGet(router.hostname, Number(router.port), "/count", hostHeader));
  }
  await cp.suspendActor({ atespace: "bench", name: swapActors[(swaps.length - 1) % 3] as string });

  await timeGet(router.hostname, Number(router.port), "/count", host);
  const actor = await cp.getActor(ref);
  const routed: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < 300; i++) {
    routed.push(await timeGet(router.hostname, Number(router.port), "/peek", host));
    direct.push(await timeGet(actor.worker?.address as string, 8080, "/peek"));
  }
  const show = (label: string, ours: number[], theirs: number[], unit = "ms") =>
    console.log(
      `${label.padEnd(32)} p50 ${pct(ours, 0.5).toFixed(2)} / ${pct(theirs, 0.5).toFixed(2)} ${unit}   p95 ${pct(ours, 0.95).toFixed(2)} / ${pct(theirs, 0.95).toFixed(2)} ${unit}   ratio p50 ${(pct(ours, 0.5) / pct(theirs, 0.5)).toFixed(2)}`,
    );
  console.log(`router, ${rounds} resume rounds and 300 routed requests, counter actor`);
  show("resume on request / raw restore", resumeOnRequest, rawRestore);
  show("routed / direct (running)", routed, direct);
  console.log(
    `swap on request (evict + resume), ${swaps.length} requests over 3 actors on 1 worker: p50 ${pct(swaps, 0.5).toFixed(0)} ms   p95 ${pct(swaps, 0.95).toFixed(0)} ms   ${(1000 / (swaps.reduce((a, b) => a + b, 0) / swaps.length)).toFixed(2)} swaps/s`,
  );
  console.log(
    `routing overhead p50 ${(pct(routed, 0.5) - pct(direct, 0.5)).toFixed(2)} ms (target ≤ 1 ms)`,
  );
} finally {
  await ate.stop();
  for (const w of await ate.agent.listWorkers().catch(() => []))
    await ate.agent.deleteWorker(w.name).catch(() => {});
  await registry.stop();
  rmSync(dir, { recursive: true, force: true });
}
