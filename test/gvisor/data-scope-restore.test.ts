// Combined restore against real runsc: an actor whose snapshots keep only its durable data
// resumes from its template's golden snapshot (memory) with its own data laid into the
// volumes. The golden counter answered requests that write nothing (its volume stays empty,
// as a golden's must for its memory to be used), so its memory counter is 0 and its boot id
// is known; the actor's own data says file 2. The next answer tells where each part came from:
// the golden's boot id, memory 1, file 3.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Code, isAteError } from "../../src/errors/index.ts";
import {
  type ActorIdentity,
  goldenActorId,
  goldenAtespace,
  NodeAgent,
  type SandboxAssets,
  type Workload,
} from "../../src/node/index.ts";
import { GvisorDriver } from "../../src/sandbox/index.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { getJson } from "../support/http.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

describe("combined restore (golden memory + the actor's data) with gvisor", {
  timeout: 300_000,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-datascope-"));
  const driver = new GvisorDriver({
    stateDir: join(dir, "state"),
    network: { prefix: "atds", subnetBase: 134, subnets: 1 },
  });
  const agent = new NodeAgent({
    stateDir: join(dir, "state"),
    drivers: [driver],
    drainTimeoutMs: 1000,
    assetDirs: ["/usr/bin"],
  });
  let registry: RunningRegistry;
  let image = "";
  const runsc = "/usr/bin/runsc";
  const assets = (): SandboxAssets => ({
    sandboxClass: "gvisor",
    assets: {
      amd64: {
        runsc: {
          url: `file://${runsc}`,
          sha256: createHash("sha256").update(readFileSync(runsc)).digest("hex"),
        },
      },
    },
  });
  const actor = (actorId: string, templateName = "counter"): ActorIdentity => ({
    atespace: "test",
    templateNamespace: "default",
    templateName,
    actorId,
  });
  const golden = (templateName = "counter"): ActorIdentity => ({
    ...actor(goldenActorId("default", templateName), templateName),
    atespace: goldenAtespace,
  });
  const workload = (): Workload => ({
    containers: [
      {
        name: "counter",
        image,
        readyz: { path: "/readyz", port: 8080, timeoutSeconds: 20 },
        volumeMounts: [{ name: "data", mountPath: "/data" }],
      },
    ],
    volumes: [{ name: "data", durableDir: {} }],
  });
  const workers: Record<string, string> = {};
  const hit = (worker: string, path = "/count") =>
    getJson<{ memory: number; file: number; actor: string }>(
      `http://${workers[worker]}:8080${path}`,
    );
  const boot = async (worker: string) =>
    (await getJson<{ bootId: string }>(`http://${workers[worker]}:8080/boot`)).bootId;
  let goldenUri = "";
  let goldenBoot = "";
  let dataUri = "";

  /** A copy of a local snapshot whose manifest is changed by `edit` (a hostile or old one). */
  const altered = (uri: string, name: string, edit: (m: Record<string, unknown>) => void) => {
    const to = join(dir, "altered", name);
    cpSync(fileURLToPath(uri), to, { recursive: true });
    const m = JSON.parse(readFileSync(join(to, "manifest.json"), "utf8"));
    edit(m);
    writeFileSync(join(to, "manifest.json"), JSON.stringify(m));
    return pathToFileURL(to).href;
  };

  before(async () => {
    assert.equal(process.getuid?.(), 0, "these tests need root (network namespaces, runsc)");
    registry = await startRegistry();
    image = await pushCounterImage(registry.host);
    for (const w of ["wa", "wb"]) workers[w] = (await agent.createWorker(w)).address;
    // The template's golden snapshot, Full, its volume empty.
    await agent.run({
      worker: "wa",
      actor: golden(),
      workload: workload(),
      sandboxAssets: assets(),
    });
    goldenBoot = await boot("wa");
    assert.equal((await hit("wa", "/peek")).file, 0);
    goldenUri = (
      await agent.checkpoint({
        worker: "wa",
        actor: golden(),
        scope: "Full",
        destination: { kind: "local" },
      })
    ).uri;
    // The actor's own Data snapshot, after 2 requests.
    await agent.run({
      worker: "wb",
      actor: actor("c1"),
      workload: workload(),
      sandboxAssets: assets(),
    });
    await hit("wb");
    assert.deepEqual(await hit("wb"), { memory: 2, file: 2, actor: "c1" });
    dataUri = (
      await agent.checkpoint({
        worker: "wb",
        actor: actor("c1"),
        scope: "Data",
        destination: { kind: "local" },
      })
    ).uri;
  });

  afterEach(async () => {
    for (const w of Object.keys(workers))
      if (await agent.record(w).catch(() => undefined)) await agent.stop(w).catch(() => {});
  });

  after(async () => {
    for (const w of Object.keys(workers)) await agent.deleteWorker(w).catch(() => {});
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("resumes from the golden's memory with the actor's own files, and again after a suspend", async () => {
    const req = { worker: "wa", actor: actor("c1"), source: dataUri, scope: "Data" as const };
    await agent.restore({ ...req, base: goldenUri });
    assert.equal(await boot("wa"), goldenBoot, "the golden's memory, not a boot");
    assert.deepEqual(await hit("wa"), { memory: 1, file: 3, actor: "c1" });
    assert.deepEqual(await hit("wa", "/peek"), { memory: 1, file: 3, actor: "c1" });
    // Its next Data snapshot carries on from there: file 4, memory the golden's again.
    await hit("wa");
    const next = await agent.checkpoint({
      worker: "wa",
      actor: actor("c1"),
      scope: "Data",
      destination: { kind: "local" },
    });
    await agent.restore({ ...req, worker: "wb", source: next.uri, base: goldenUri });
    assert.equal(await boot("wb"), goldenBoot);
    assert.deepEqual(await hit("wb"), { memory: 1, file: 5, actor: "c1" });
  });

  it("starts a new actor from the golden alone (source = base): its memory and its files", async () => {
    await agent.restore({
      worker: "wa",
      actor: actor("c2"),
      source: goldenUri,
      base: goldenUri,
      scope: "Data",
      origin: "golden",
    });
    assert.equal(await boot("wa"), goldenBoot);
    assert.deepEqual(await hit("wa"), { memory: 1, file: 1, actor: "c2" });
  });

  it("falls back to a cold boot with the data when the golden holds no memory (an old Data golden)", async () => {
    const old = altered(goldenUri, "old-golden", (m) => {
      m.scope = "Data";
      m.snapshotFiles = (m.snapshotFiles as { name: string }[]).filter((f) =>
        f.name.startsWith("data/"),
      );
    });
    await agent.restore({
      worker: "wa",
      actor: actor("c1"),
      source: dataUri,
      base: old,
      scope: "Data",
    });
    assert.notEqual(await boot("wa"), goldenBoot, "booted");
    assert.deepEqual(await hit("wa"), { memory: 1, file: 3, actor: "c1" });
  });

  it("boots instead when the golden's volume held files (its memory may have them open)", async () => {
    // A golden that wrote its volume before it was taken.
    await agent.run({
      worker: "wb",
      actor: golden(),
      workload: workload(),
      sandboxAssets: assets(),
    });
    const writerBoot = await boot("wb");
    await hit("wb");
    const writer = await agent.checkpoint({
      worker: "wb",
      actor: golden(),
      scope: "Full",
      destination: { kind: "local" },
    });
    await agent.restore({
      worker: "wa",
      actor: actor("c1"),
      source: dataUri,
      base: writer.uri,
      scope: "Data",
    });
    assert.notEqual(await boot("wa"), writerBoot, "booted");
    assert.deepEqual(await hit("wa"), { memory: 1, file: 3, actor: "c1" });
  });

  it("refuses another template's golden, another actor's snapshot as base, and a Full snapshot as data", async () => {
    const req = { worker: "wa", actor: actor("c1"), source: dataUri, scope: "Data" as const };
    const otherGolden = altered(goldenUri, "other-golden", (m) => {
      m.actor = golden("other");
    });
    const fullData = altered(dataUri, "full-data", (m) => {
      m.scope = "Full";
    });
    const refused = (pattern: RegExp) => (e: unknown) => {
      assert.ok(isAteError(e, Code.FailedPrecondition), String(e));
      assert.match((e as Error).message, pattern);
      return true;
    };
    await assert.rejects(
      agent.restore({ ...req, base: otherGolden }),
      refused(/is not the golden snapshot of template default\/counter.*nothing was restored/),
    );
    await assert.rejects(
      agent.restore({ ...req, base: dataUri }),
      refused(/is not the golden snapshot of template default\/counter/),
    );
    await assert.rejects(
      agent.restore({ ...req, source: fullData, base: goldenUri }),
      refused(/has scope Full, not Data.*nothing was restored/),
    );
    await assert.rejects(
      agent.restore({ ...req, actor: actor("c9"), base: goldenUri }),
      refused(/belongs to actor test\/c1/),
    );
    assert.equal(await agent.record("wa"), undefined, "nothing was started");
  });
});
