import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { jsonLogger } from "../src/log/index.ts";
import { type ActorIdentity, goldenActorId, goldenAtespace, NodeAgent } from "../src/node/index.ts";
import { Runsc } from "../src/sandbox/gvisor/runsc.ts";
import { GvisorDriver } from "../src/sandbox/index.ts";
import { pushCounterImage } from "../test/support/counter-image.ts";
import { getJson } from "../test/support/http.ts";
import { startRegistry } from "../test/support/registry.ts";
import { copyBundle, counterWorkload, machineRunscAssets } from "./counter-actor.ts";
import { benchInfo, benchLine, quantile } from "./summary.ts";

const rounds = Number(process.env.ROUNDS ?? 7);
const dir = mkdtempSync(join(tmpdir(), "ate-bench-ds-"));
const state = join(dir, "state");
const driver = new GvisorDriver({
  stateDir: state,
  network: { prefix: "atbd", subnetBase: 136, subnets: 1 },
});
const agent = new NodeAgent({
  stateDir: state,
  drivers: [driver],
  assetDirs: ["/usr/bin"],
  logger: jsonLogger(process.env.ATE_LOG === "debug" ? "debug" : "warn"),
});
const registry = await startRegistry();
const time = async (f: () => Promise<unknown>) => {
  const t = performance.now();
  await f();
  return performance.now() - t;
};
const p50 = (xs: number[]) => quantile(xs, 0.5);
const runscRoot = join(state, "runsc");
let rawId: string | undefined;

try {
  const image = await pushCounterImage(registry.host);
  const sandboxAssets = machineRunscAssets();
  const workload = counterWorkload(image);
  const identity = (atespace: string, actorId: string): ActorIdentity => ({
    atespace,
    templateNamespace: "default",
    templateName: "counter",
    actorId,
  });
  const golden = identity(goldenAtespace, goldenActorId("default", "counter"));
  const actor = identity("bench", "d1");
  const da = await agent.createWorker("da");
  await agent.createWorker("db");
  const first = async (address: string) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        return await getJson<{ actor: string; file: number }>(`http://${address}:8080/peek`);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };

  // The template's golden snapshot (Full) and the actor's own Data snapshot (file count 2),
  // suspended where `ate up` keeps snapshots: a file:// location outside the node's own.
  const stored = (name: string) => pathToFileURL(join(dir, "store", name)).href;
  await agent.run({ worker: "da", actor: golden, workload, sandboxAssets });
  const bootId = async (address: string) =>
    (await getJson<{ bootId: string }>(`http://${address}:8080/boot`)).bootId;
  const goldenBoot = await bootId(da.address);
  const daIndex = Array.from({ length: driver.networks.capacity }, (_, i) => i).find(
    (i) => driver.networks.addresses(i).worker === da.address,
  ) as number;
  const rawBundle = copyBundle(
    join(state, "bundles", "da"),
    join(dir, "raw"),
    driver.networks.sandboxNsPath(daIndex),
  );
  const goldenUri = (
    await agent.checkpoint({
      worker: "da",
      actor: golden,
      scope: "Full",
      destination: { kind: "external", uriPrefix: stored("golden") },
    })
  ).uri;
  // The same golden kept uncompressed (a local checkpoint), for raw runsc only: what the
  // compression of a suspended golden costs each restore.
  await agent.run({ worker: "da", actor: golden, workload, sandboxAssets });
  const plainUri = (
    await agent.checkpoint({
      worker: "da",
      actor: golden,
      scope: "Full",
      destination: { kind: "local" },
    })
  ).uri;
  await agent.run({ worker: "db", actor, workload, sandboxAssets });
  const db = (await agent.listWorkers()).find((w) => w.name === "db")?.address ?? "";
  await getJson(`http://${db}:8080/count`);
  await getJson(`http://${db}:8080/count`);
  const dataUri = (
    await agent.checkpoint({
      worker: "db",
      actor,
      scope: "Data",
      destination: { kind: "external", uriPrefix: stored("d1") },
    })
  ).uri;
  await agent.stop("da");

  const combined: number[] = [];
  const cold: number[] = [];
  const rawRs: number[] = [];
  const rawPlain: number[] = [];
  const req = { worker: "da", actor, source: dataUri, scope: "Data" as const };
  const check = (seen: { actor: string; file: number }, how: string) => {
    if (seen.actor !== "d1" || seen.file !== 2)
      throw new Error(`${how}: the actor saw ${JSON.stringify(seen)}, not its own data`);
  };
  // Raw runsc: the golden's image restored into a copy of the golden's bundle, in worker da's
  // network namespace (where the golden was checkpointed), timed to the first answer too.
  const raw = new Runsc(agent.assets.path(sandboxAssets.assets.amd64.runsc.sha256), runscRoot);
  const goldenImage = join(fileURLToPath(goldenUri), "checkpoint");
  const plainImage = join(fileURLToPath(plainUri), "checkpoint");
  for (let i = 0; i < rounds; i++) {
    let seen = { actor: "", file: 0 };
    combined.push(
      await time(async () => {
        await agent.restore({ ...req, base: goldenUri });
        seen = await first(da.address);
      }),
    );
    check(seen, "combined restore");
    if ((await bootId(da.address)) !== goldenBoot)
      throw new Error("the combined restore booted the actor instead of restoring the golden");
    await agent.stop("da");
    cold.push(
      await time(async () => {
        await agent.restore(req);
        seen = await first(da.address);
      }),
    );
    check(seen, "cold boot");
    await agent.stop("da");
    const id = `draw${i}`;
    rawId = id;
    await driver.networks.resetSandbox(daIndex);
    rawRs.push(
      await time(async () => {
        await raw.restore(id, rawBundle, goldenImage, join(dir, "raw.log"));
        await first(da.address);
      }),
    );
    await raw.kill(id);
    await raw.delete(id);
    rawId = undefined;
    await driver.networks.resetSandbox(daIndex);
    rawId = `${id}u`;
    rawPlain.push(
      await time(async () => {
        await raw.restore(`${id}u`, rawBundle, plainImage, join(dir, "raw.log"));
        await first(da.address);
      }),
    );
    await raw.kill(`${id}u`);
    await raw.delete(`${id}u`);
    rawId = undefined;
    await driver.networks.resetSandbox(daIndex);
  }
  const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(" ");
  console.log(`data-scope actor, ${rounds} rounds, counter actor (node + libs, ~100 MB rootfs)`);
  console.log(`combined restore (golden memory + own data) ms: ${ms(combined)}`);
  console.log(`cold boot (Data restore, image booted)       ms: ${ms(cold)}`);
  console.log(`raw runsc restore of the golden's image      ms: ${ms(rawRs)}`);
  console.log(`raw runsc restore, golden image uncompressed ms: ${ms(rawPlain)}`);
  benchInfo("data-scope-combined-p50", p50(combined), "ms");
  benchInfo("data-scope-combined-p95", quantile(combined, 0.95), "ms");
  benchInfo("data-scope-cold-boot-p50", p50(cold), "ms");
  benchInfo("data-scope-cold-boot-p95", quantile(cold, 0.95), "ms");
  benchInfo("data-scope-raw-restore-p50", p50(rawRs), "ms");
  benchInfo("data-scope-raw-restore-uncompressed-p50", p50(rawPlain), "ms");
  benchInfo("data-scope-combined-vs-raw", p50(combined) / p50(rawRs), "x");
  benchLine("data-scope-restore-vs-boot", p50(combined) / p50(cold), "x", "<=", 1);
} finally {
  if (rawId) {
    const raw = new Runsc("/usr/bin/runsc", runscRoot);
    await raw.delete(rawId).catch(() => {});
  }
  await agent.deleteWorker("da").catch(() => {});
  await agent.deleteWorker("db").catch(() => {});
  await registry.stop();
  rmSync(dir, { recursive: true, force: true });
}
