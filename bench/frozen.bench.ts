// The frozen tier, measured in one run: activation from the frozen tier (a request to an
// actor paused in place, to its first byte through the router) beside activation from the
// suspended tier (a restore), and raw `runsc resume` + a direct request on the same sandbox.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jsonLogger, silentLogger } from "../src/log/index.ts";
import { startSubstrate } from "../src/up/index.ts";
import { pushCounterImage } from "../test/support/counter-image.ts";
import { applyCounterSetup, waitForGolden } from "../test/support/counter-resources.ts";
import { removeLeftoverWorkers } from "../test/support/leftover-workers.ts";
import { startRegistry } from "../test/support/registry.ts";
import { timeGet } from "./raw-sandbox.ts";
import { benchInfo, benchLine, quantile } from "./summary.ts";

const rounds = Number(process.env.ROUNDS ?? 20);
const dir = mkdtempSync(join(tmpdir(), "ate-frozen-bench-"));
const state = join(dir, "state");
const nodeDir = join(state, "node");
const network = { prefix: "atbf", subnetBase: 226, subnets: 1 };
const registry = await startRegistry();
const ate = await startSubstrate({
  runsc: false, // applyCounterSetup declares the runtime
  stateDir: state,
  apiAddr: "127.0.0.1:0",
  routerAddr: "127.0.0.1:0",
  nodeName: "n1",
  network,
  idleTimeoutMs: 0,
  // ATE_LOG=debug shows where an activation's time goes (route.*, thaw.* steps).
  logger: process.env.ATE_LOG ? jsonLogger() : silentLogger,
});
const router = new URL(ate.routerUrl);
const runsc = (...args: string[]) =>
  execFileSync("/usr/bin/runsc", [`--root=${join(nodeDir, "runsc")}`, ...args], {
    encoding: "utf8",
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

try {
  const image = await pushCounterImage(registry.host);
  await applyCounterSetup(ate.resources, {
    image,
    snapshotsDir: join(dir, "snapshots"),
    replicas: 1,
    templates: { counter: { "ate.dev/freeze-after-idle": "1s" } },
  });
  await waitForGolden(ate.resources, ["counter"]);
  const cp = ate.controlPlane;
  await cp.createAtespace("bench");
  const ref = { atespace: "bench", name: "a" };
  await cp.createActor(ref, "default", "counter");
  const host = "a.bench.actors.resources.substrate.ate.dev";
  const get = () => timeGet(router.hostname, Number(router.port), "/count", host);

  /** Until the actor is frozen and its sandbox paused (the record is marked before the pause). */
  const frozen = async () => {
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(50)) {
      const a = await cp.getActor(ref);
      if (a.tier !== "frozen" || !a.worker) continue;
      if (JSON.parse(runsc("state", a.worker.name)).status !== "paused") continue;
      // The confirming write follows the pause: a request now meets a settled freeze.
      await sleep(100);
      if ((await cp.getActor(ref)).version === a.version) return a.worker.name;
    }
    throw new Error("the actor was not frozen within 30 s");
  };

  await get(); // resumed from the golden snapshot
  const fromFrozen: number[] = [];
  const rawResume: number[] = [];
  let worker = "";
  for (let i = 0; i < rounds; i++) {
    worker = await frozen();
    fromFrozen.push(await get());
    // Raw: runsc pause, then runsc resume + a direct request, on the same running sandbox.
    const address = (await cp.getActor(ref)).worker?.address as string;
    runsc("pause", worker);
    const t = performance.now();
    runsc("resume", worker);
    await timeGet(address, 8080, "/peek");
    rawResume.push(performance.now() - t);
  }

  const fromSuspended: number[] = [];
  for (let i = 0; i < Math.min(rounds, 7); i++) {
    await cp.suspendActor(ref);
    await sleep(3000); // the worker's tear-down finishes: the idle-worker case
    fromSuspended.push(await get());
  }

  const p = (xs: number[], q: number) => quantile(xs, q).toFixed(1);
  console.log(`frozen tier, ${rounds} rounds, counter actor, 1 worker`);
  console.log(
    `activation from frozen     p50 ${p(fromFrozen, 0.5)} ms   p95 ${p(fromFrozen, 0.95)} ms`,
  );
  console.log(
    `raw runsc resume + request p50 ${p(rawResume, 0.5)} ms   p95 ${p(rawResume, 0.95)} ms`,
  );
  console.log(
    `activation from suspended  p50 ${p(fromSuspended, 0.5)} ms   p95 ${p(fromSuspended, 0.95)} ms`,
  );
  benchLine("activation-frozen-p95", quantile(fromFrozen, 0.95), "ms", "<=", 100);
  benchInfo("activation-frozen-raw-resume-p95", quantile(rawResume, 0.95), "ms");
  benchInfo("activation-suspended-p95", quantile(fromSuspended, 0.95), "ms");
} finally {
  await ate.stop();
  await removeLeftoverWorkers(nodeDir, network);
  await registry.stop();
  rmSync(dir, { recursive: true, force: true });
}
