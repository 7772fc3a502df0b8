// The router, measured in one run: activation (a request to a suspended actor, to its first
// byte) against raw `runsc restore --detach` of a snapshot of the same actor to its first
// byte, in two cases each: the worker idle for a while (3 s after the suspend), and the worker
// freed by a suspend just before (the request, or the raw restore, right as the suspend
// returns: the agent's tear-down of the former sandbox still runs). The raw restores run in a
// network namespace of their own (see raw-sandbox.ts), so both sides start at the same moment
// after a suspend. Then swaps (requests to more actors than workers, each evicting one), and
// routed against direct requests to a running actor. Ratios compare p95s.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { jsonLogger, silentLogger } from "../src/log/index.ts";
import type { Actor } from "../src/records/index.ts";
import { startSubstrate } from "../src/up/index.ts";
import { pushCounterImage } from "../test/support/counter-image.ts";
import { applyCounterSetup, waitForGolden } from "../test/support/counter-resources.ts";
import { startRegistry } from "../test/support/registry.ts";
import { RawSandbox, timeGet } from "./raw-sandbox.ts";
import { benchInfo, benchLine, quantile } from "./summary.ts";

// 20: with fewer, p95 (nearest rank) is the single slowest sample, a matter of luck here.
const rounds = Number(process.env.ROUNDS ?? 20);
const idleMs = 3000;
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
  // ATE_LOG=debug prints where each activation's time goes (`route.*`, `restore.*` steps).
  logger: process.env.ATE_LOG === "debug" ? jsonLogger("debug") : silentLogger,
});
const raw = new RawSandbox({ state, dir, network, index: 9 });
const router = new URL(ate.routerUrl);
const viaRouter = (path: string, host: string) =>
  timeGet(router.hostname, Number(router.port), path, host);

/** A hard-linked copy of a suspended actor's checkpoint image (safe from snapshot clean-up). */
let copies = 0;
function imageOf(a: Actor): string {
  const img = join(dir, `img-${++copies}`);
  const from = join(fileURLToPath(a.latestSnapshot?.uri ?? ""), "checkpoint");
  execFileSync("cp", ["-al", from, img]);
  return img;
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
  await viaRouter("/count", host);
  const worker = (await cp.getActor(ref)).worker?.name as string;
  await raw.prepare(worker, "a");

  const idle: number[] = [];
  const rawIdle: number[] = [];
  const freed: number[] = [];
  const rawFreed: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Idle worker: ours, then raw on the snapshot ours just restored, each after idleMs.
    const snap = await cp.suspendActor(ref);
    const img = imageOf(snap);
    await sleep(idleMs);
    // GET /peek on both sides: the raw restore's probe asks for it (/count also writes a file).
    idle.push(await viaRouter("/peek", host));
    await sleep(idleMs);
    const r1 = await raw.restore(img);
    rawIdle.push(r1.ms);
    await raw.remove(r1.id);
    // Freed just before: the request (or the raw restore) as the suspend returns.
    await cp.suspendActor(ref);
    freed.push(await viaRouter("/peek", host));
    const snap2 = await cp.suspendActor(ref);
    const img2 = imageOf(snap2);
    const r2 = await raw.restore(img2);
    rawFreed.push(r2.ms);
    await raw.remove(r2.id);
    await viaRouter("/count", host); // running again for the next round
  }

  // Swaps: requests round robin over 3 actors on the one worker, each waiting while the
  // control plane evicts the one that ran last (a checkpoint) and resuming its own (a restore).
  const swapActors = ["s0", "s1", "s2"];
  await cp.suspendActor(ref);
  for (const name of swapActors)
    await cp.createActor({ atespace: "bench", name }, "default", "counter");
  const swaps: number[] = [];
  for (let i = 0; i < rounds * swapActors.length; i++) {
    const name = swapActors[i % swapActors.length] as string;
    swaps.push(await viaRouter("/count", `${name}.bench.actors.resources.substrate.ate.dev`));
  }
  await cp.suspendActor({ atespace: "bench", name: swapActors[(swaps.length - 1) % 3] as string });

  await viaRouter("/count", host);
  const actor = await cp.getActor(ref);
  const routed: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < 300; i++) {
    routed.push(await viaRouter("/peek", host));
    direct.push(await timeGet(actor.worker?.address as string, 8080, "/peek"));
  }
  const p = quantile;
  const show = (label: string, ours: number[], theirs: number[]) =>
    console.log(
      `${label.padEnd(40)} p50 ${p(ours, 0.5).toFixed(0)} / ${p(theirs, 0.5).toFixed(0)} ms   p95 ${p(ours, 0.95).toFixed(0)} / ${p(theirs, 0.95).toFixed(0)} ms   ratio p95 ${(p(ours, 0.95) / p(theirs, 0.95)).toFixed(2)}`,
    );
  console.log(`router, ${rounds} rounds of each activation case, counter actor`);
  show("activation, idle worker / raw restore", idle, rawIdle);
  show("activation, freed worker / raw restore", freed, rawFreed);
  show("routed / direct (running)", routed, direct);
  const swapsPerSec = 1000 / (swaps.reduce((a, b) => a + b, 0) / swaps.length);
  console.log(
    `swap on request (evict + resume), ${swaps.length} requests over 3 actors on 1 worker: p50 ${p(swaps, 0.5).toFixed(0)} ms   p95 ${p(swaps, 0.95).toFixed(0)} ms   ${swapsPerSec.toFixed(2)} swaps/s`,
  );
  benchInfo("activation-p95", p(idle, 0.95), "ms");
  benchInfo("activation-raw-restore-p95", p(rawIdle, 0.95), "ms");
  benchLine("activation-p95-ratio", p(idle, 0.95) / p(rawIdle, 0.95), "x", "<=", 1.15);
  benchInfo("activation-freed-p95", p(freed, 0.95), "ms");
  benchInfo("activation-freed-raw-restore-p95", p(rawFreed, 0.95), "ms");
  benchLine("activation-freed-p95-ratio", p(freed, 0.95) / p(rawFreed, 0.95), "x", "<=", 1.15);
  benchInfo("swap-on-request-p95", p(swaps, 0.95), "ms");
  benchLine("routing-overhead-p50", p(routed, 0.5) - p(direct, 0.5), "ms", "<=", 1);
} finally {
  await ate.stop();
  await raw.close().catch(() => {});
  for (const w of await ate.agent.listWorkers().catch(() => []))
    await ate.agent.deleteWorker(w.name).catch(() => {});
  await registry.stop();
  rmSync(dir, { recursive: true, force: true });
}
