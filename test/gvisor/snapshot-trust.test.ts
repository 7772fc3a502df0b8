// A snapshot is restored only into the actor that owns it, or — a golden snapshot — into actors
// of its own template; and what a checkpoint leaves on disk is root's alone. Real runsc, a
// registry on loopback, network namespaces made by the agent.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Code, isAteError } from "../../src/errors/index.ts";
import { goldenActorId } from "../../src/node/golden.ts";
import {
  type ActorIdentity,
  NodeAgent,
  type SandboxAssets,
  type Workload,
} from "../../src/node/index.ts";
import { GvisorDriver } from "../../src/sandbox/index.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { getJson } from "../support/http.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

const mode = (p: string) => statSync(p).mode & 0o777;

/** Every directory and file under dir with its mode. */
function modes(dir: string): [string, number][] {
  const out: [string, number][] = [[dir, mode(dir)]];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...modes(p));
    else out.push([p, mode(p)]);
  }
  return out;
}

describe("snapshot ownership and file modes with gvisor", { timeout: 300_000 }, () => {
  let dir = "";
  let agent: NodeAgent;
  let registry: RunningRegistry;
  let image = "";
  const runsc = realpathSync("/usr/bin/runsc");
  const sandboxAssets: SandboxAssets = {
    sandboxClass: "gvisor",
    assets: {
      amd64: {
        runsc: {
          url: `file://${runsc}`,
          sha256: createHash("sha256").update(readFileSync(runsc)).digest("hex"),
        },
      },
    },
  };
  const id = (atespace: string, actorId: string, templateName = "counter"): ActorIdentity => ({
    atespace,
    templateNamespace: "default",
    templateName,
    actorId,
  });
  const golden = (templateName: string) =>
    id("ate-golden", goldenActorId("default", templateName), templateName);
  const workload = (): Workload => ({
    containers: [
      {
        name: "counter",
        image,
        env: [{ name: "PORT", value: "8080" }],
        readyz: { path: "/readyz", port: 8080, timeoutSeconds: 20 },
        volumeMounts: [{ name: "data", mountPath: "/data" }],
      },
    ],
    volumes: [{ name: "data", durableDir: {} }],
  });
  const workers: Record<string, string> = {};
  let snapUri = "";
  const hit = (worker: string) =>
    getJson<{ memory: number; file: number; actor: string }>(
      `http://${workers[worker]}:8080/count`,
    );
  const refused = (pattern: RegExp) => (e: unknown) => {
    assert.ok(isAteError(e, Code.FailedPrecondition), String(e));
    assert.match((e as Error).message, pattern);
    return true;
  };

  before(async () => {
    assert.equal(process.getuid?.(), 0, "these tests need root (network namespaces, runsc)");
    dir = await mkdtemp(join(tmpdir(), "ate-trust-"));
    const state = join(dir, "state");
    agent = new NodeAgent({
      stateDir: state,
      drivers: [
        new GvisorDriver({ stateDir: state, network: { prefix: "atso", subnetBase: 150 } }),
      ],
      drainTimeoutMs: 1000,
    });
    registry = await startRegistry();
    image = await pushCounterImage(registry.host);
    for (const w of ["wa", "wb"]) workers[w] = (await agent.createWorker(w)).address;
  });

  afterEach(async () => {
    for (const w of Object.keys(workers)) await agent.stop(w).catch(() => {});
  });

  after(async () => {
    for (const w of Object.keys(workers)) await agent?.deleteWorker(w).catch(() => {});
    await registry?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("refuses another actor's snapshot before touching the worker, which stays usable; the owner gets it back", async () => {
    const a = id("tenant-a", "a1");
    await agent.run({ worker: "wa", actor: a, workload: workload(), sandboxAssets });
    await hit("wa");
    const snap = await agent.checkpoint({
      worker: "wa",
      actor: a,
      scope: "Full",
      destination: { kind: "local" },
    });
    for (const b of [id("tenant-b", "a1"), id("tenant-a", "a2")]) {
      await assert.rejects(
        agent.restore({ worker: "wb", actor: b, source: snap.uri, scope: "Full", origin: "own" }),
        refused(
          new RegExp(
            `^snapshot ${snap.uri} belongs to actor tenant-a/a1 \\(template default/counter\\), not to ${b.atespace}/${b.actorId} .*nothing was restored`,
          ),
        ),
      );
      assert.equal(await agent.record("wb"), undefined, "nothing restored");
    }
    assert.deepEqual(
      (await agent.listWorkers()).find((w) => w.name === "wb"),
      { name: "wb", address: workers.wb },
      "the worker is free",
    );
    // Its own snapshot (origin own, the default) restores, onto the worker that refused the others.
    await agent.restore({ worker: "wb", actor: a, source: snap.uri, scope: "Full" });
    assert.deepEqual(await hit("wb"), { memory: 2, file: 2, actor: "a1" });
  });

  it("restores a golden snapshot only into actors of its own template", async () => {
    const g = golden("counter");
    await agent.run({ worker: "wa", actor: g, workload: workload(), sandboxAssets });
    const snap = await agent.checkpoint({
      worker: "wa",
      actor: g,
      scope: "Full",
      destination: { kind: "external", uriPrefix: `file://${dir}/external/golden/1` },
    });
    const other = id("tenant-a", "o1", "other");
    await assert.rejects(
      agent.restore({
        worker: "wb",
        actor: other,
        source: snap.uri,
        scope: "Full",
        origin: "golden",
      }),
      refused(
        new RegExp(
          `^snapshot ${snap.uri} is not the golden snapshot of template default/other .*it belongs to actor ate-golden/${g.actorId} \\(template default/counter\\).*nothing was restored`,
        ),
      ),
    );
    // Asked for as the actor's own snapshot, a golden snapshot is someone else's too.
    await assert.rejects(
      agent.restore({ worker: "wb", actor: id("tenant-a", "c1"), source: snap.uri, scope: "Full" }),
      refused(/belongs to actor ate-golden\//),
    );
    assert.equal(await agent.record("wb"), undefined);
    const c1 = id("tenant-a", "c1");
    await agent.restore({
      worker: "wb",
      actor: c1,
      source: snap.uri,
      scope: "Full",
      origin: "golden",
    });
    assert.equal((await hit("wb")).actor, "c1", "the restored actor learns its own id");
    assert.deepEqual((await agent.record("wb"))?.actor, c1);
  });

  it("keeps snapshots, manifests, records and logs for root only", async () => {
    const a = id("tenant-a", "m1");
    await agent.run({ worker: "wa", actor: a, workload: workload(), sandboxAssets });
    await hit("wa");
    const state = join(dir, "state");
    assert.equal(mode(state), 0o700, "the node's state dir");
    assert.equal(mode(join(state, "workers", "wa")), 0o700);
    assert.equal(mode(join(state, "workers", "wa", "actor.json")), 0o600);
    assert.equal(mode(join(state, "logs")), 0o700);
    assert.equal(mode(join(state, "logs", "tenant-a", "m1.log")), 0o600);
    assert.equal(mode(join(state, "assets")), 0o700);
    assert.equal(
      mode(join(state, "assets", "sha256", sandboxAssets.assets.amd64?.runsc?.sha256 ?? "")),
      0o700,
    );
    for (const local of [true, false]) {
      if (!local) {
        await agent.restore({ worker: "wa", actor: a, source: snapUri, scope: "Full" });
      }
      const snap = await agent.checkpoint({
        worker: "wa",
        actor: a,
        scope: "Full",
        destination: local
          ? { kind: "local" }
          : { kind: "external", uriPrefix: `file://${dir}/external/tenant-a/m1/2` },
      });
      snapUri = snap.uri;
      const root = fileURLToPath(snap.uri);
      const entries = modes(root);
      assert.ok(entries.some(([p]) => p.endsWith("manifest.json")));
      assert.ok(entries.some(([p]) => p.includes("checkpoint")));
      for (const [p, m] of entries)
        assert.equal(m, statSync(p).isDirectory() ? 0o700 : 0o600, `${p} is ${m.toString(8)}`);
    }
    assert.equal(mode(join(state, "snapshots")), 0o700);
  });
});
