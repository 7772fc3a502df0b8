// Checkpoint and restore of one counter actor: the node agent (drain, manifest, verification,
// runtime from the asset cache) against raw `runsc checkpoint` / `runsc restore` of the same
// actor, measured in one run on this machine. Prints medians and the agent/raw ratios.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jsonLogger } from "../src/log/index.ts";
import { NodeAgent, type Workload } from "../src/node/index.ts";
import { Runsc } from "../src/sandbox/gvisor/runsc.ts";
import { GvisorDriver } from "../src/sandbox/index.ts";
import { pushCounterImage } from "../test/support/counter-image.ts";
import { getJson } from "../test/support/http.ts";
import { startRegistry } from "../test/support/registry.ts";

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
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const time = async (f: () => Promise<unknown> | unknown) => {
  const t = performance.now();
  await f();
  return performance.now() - t;
};

try {
  const image = await pushCounterImage(registry.host);
  const runsc = "/usr/bin/runsc";
  const assets = {
    sandboxClass: "gvisor" as const,
    assets: {
      amd64: {
        runsc: {
          url: `file://${runsc}`,
          sha256: createHash("sha256").update(readFileSync(runsc)).digest("hex"),
        },
      },
    },
  };
  const workload: Workload = {
    containers: [
      {
        name: "counter",
        image,
        readyz: { path: "/readyz", port: 8080 },
        volumeMounts: [{ name: "data", mountPath: "/data" }],
      },
    ],
    volumes: [{ name: "data", durableDir: {} }],
  };
  const actor = {
    atespace: "bench",
    templateNamespace: "default",
    templateName: "counter",
    actorId: "b1",
  };
  const a = await agent.createWorker("ba");
  await agent.createWorker("bb");
  const runscRoot = join(state, "runsc");
  const cachedRunsc = agent.assets.path(assets.assets.amd64.runsc.sha256);
  const raw = (...args: string[]) =>
    execFileSync(cachedRunsc, [
      `--root=${runscRoot}`,
      "--network=sandbox",
      "--overlay2=root:memory",
      "--net-disconnect-ok",
      ...args,
    ]);
  // The same runsc, flags and /proc/sys workaround the driver uses, without the agent around it.
  const rawRestore = (id: string, bundle: string, image: string) =>
    new Runsc(cachedRunsc, runscRoot).restore(id, bundle, image, join(dir, "raw.log"));
  const ready = async (address: string) => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      try {
        await getJson(`http://${address}:8080/peek`);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    throw new Error(`the raw restore at ${address} did not answer within 20 s`);
  };

  const agentCk: number[] = [];
  const agentRs: number[] = [];
  const rawCk: number[] = [];
  const rawRs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // The agent: checkpoint to a local snapshot, restore it onto the other worker.
    await agent.run({ worker: "ba", actor, workload, sandboxAssets: assets });
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

    // Raw runsc on the same actor and bundle: no drain, no manifest, no verification.
    await agent.run({ worker: "ba", actor, workload, sandboxAssets: assets });
    await getJson(`http://${a.address}:8080/count`);
    const img = join(dir, `raw-${i}`);
    rawCk.push(
      await time(() => raw("checkpoint", "--compression=none", "--image-path", img, "ba")),
    );
    raw("delete", "--force", "ba");
    await driver.networks.resetSandbox(0);
    // Back into a fresh namespace of the same worker, whose bundle and volumes are still there.
    rawRs.push(
      await time(async () => {
        await rawRestore("ba", join(state, "bundles", "ba"), img);
        await ready(a.address);
      }),
    );
    await agent.stop("ba");
  }
  const line = (what: string, ours: number[], theirs: number[]) =>
    console.log(
      `${what.padEnd(11)} agent p50 ${median(ours).toFixed(0).padStart(5)} ms   raw runsc p50 ${median(theirs).toFixed(0).padStart(5)} ms   ratio ${(median(ours) / median(theirs)).toFixed(2)}`,
    );
  console.log(
    `node agent vs raw runsc, ${rounds} rounds, counter actor (node + libs, ~100 MB rootfs)`,
  );
  line("checkpoint", agentCk, rawCk);
  line("restore", agentRs, rawRs);
  console.log(
    "(agent checkpoint includes connection drain, data tar, hashing and the manifest; agent restore includes manifest read, verification and readyz)",
  );
} finally {
  await agent.deleteWorker("ba").catch(() => {});
  await agent.deleteWorker("bb").catch(() => {});
  await registry.stop();
  rmSync(dir, { recursive: true, force: true });
}
