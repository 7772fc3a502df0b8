// The real node agent with gVisor, called only through the node API (gRPC on loopback, with
// its call secret): workers made, a counter run, checkpointed to a file:// prefix and restored
// in another worker with memory and file intact, its logs streamed; an upload that fails
// comes back as the snapshot the node kept, and that snapshot restores.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import {
  type ActorIdentity,
  NodeAgent,
  NodeClient,
  nodeHttpTransport,
  type RunningNodeApiServer,
  type SandboxAssets,
  startNodeApiServer,
  type Workload,
} from "../../src/node/index.ts";
import { GvisorDriver } from "../../src/sandbox/index.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { getJson } from "../support/http.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

describe("the node agent over the node API, with gvisor", { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-node-wire-"));
  const state = join(dir, "state");
  const agent = new NodeAgent({
    stateDir: state,
    drivers: [
      new GvisorDriver({
        stateDir: state,
        network: { prefix: "atnw", subnetBase: 190, subnets: 1 },
      }),
    ],
    drainTimeoutMs: 1000,
  });
  const secret = randomBytes(32).toString("base64url");
  let server: RunningNodeApiServer;
  let node: NodeClient;
  let registry: RunningRegistry;
  let image = "";
  const addresses: Record<string, string> = {};
  const runsc = "/usr/bin/runsc";
  const sandboxAssets: SandboxAssets = {
    sandboxClass: "gvisor",
    assets: {
      [agent.arch]: {
        runsc: {
          url: pathToFileURL(runsc).href,
          sha256: createHash("sha256").update(readFileSync(runsc)).digest("hex"),
        },
      },
    },
  };
  const actor: ActorIdentity = {
    atespace: "test",
    templateNamespace: "default",
    templateName: "counter",
    actorId: "wired",
  };
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
  const hit = (worker: string) =>
    getJson<{ memory: number; file: number; actor: string }>(
      `http://${addresses[worker]}:8080/count`,
    );

  before(async () => {
    assert.equal(process.getuid?.(), 0, "these tests need root (network namespaces, runsc)");
    server = await startNodeApiServer({ port: 0, agent, callSecret: secret });
    node = new NodeClient(nodeHttpTransport(server.url, secret), "node n1");
    registry = await startRegistry();
    image = await pushCounterImage(registry.host);
    for (const w of ["wa", "wb"]) addresses[w] = (await node.createWorker(w)).address;
  });

  after(async () => {
    for (const w of Object.keys(addresses)) {
      await agent.stop(w).catch(() => {});
      await agent.deleteWorker(w).catch(() => {});
    }
    await server?.close();
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs, checkpoints to a file:// prefix and restores in another worker", async () => {
    const ran = await node.run({ worker: "wa", actor, workload: workload(), sandboxAssets });
    assert.deepEqual(ran.actor, actor);
    assert.deepEqual(await hit("wa"), { memory: 1, file: 1, actor: "wired" });
    assert.deepEqual(await hit("wa"), { memory: 2, file: 2, actor: "wired" });

    const prefix = pathToFileURL(join(dir, "snapshots", "wired", "1")).href;
    const snap = await node.checkpoint({
      worker: "wa",
      actor,
      scope: "Full",
      destination: { kind: "external", uriPrefix: prefix },
    });
    assert.deepEqual(
      { uri: snap.uri, local: snap.local, uploadError: snap.uploadError },
      {
        uri: prefix,
        local: false,
        uploadError: undefined,
      },
    );
    assert.ok(snap.files.some((f) => f.name.startsWith("checkpoint/")));
    assert.ok(snap.files.some((f) => f.name === "data/data.tar.gz"));
    assert.equal((await node.listWorkers()).find((w) => w.name === "wa")?.actor, undefined);

    const restored = await node.restore({
      worker: "wb",
      actor,
      source: snap.uri,
      scope: "Full",
      origin: "own",
    });
    assert.deepEqual(restored.actor, actor);
    assert.deepEqual(await hit("wb"), { memory: 3, file: 3, actor: "wired" });

    let output = "";
    for await (const piece of node.logs(actor)) output += Buffer.from(piece).toString();
    assert.match(output, /counter listening on 8080/);

    // What the node will register with: its caches now hold the runtime and the image.
    const described = await agent.describe();
    assert.deepEqual(described.sandboxClasses, ["gvisor"]);
    assert.equal(described.arch, agent.arch);
    assert.ok(
      described.cachedAssets.includes(sandboxAssets.assets[agent.arch]?.runsc?.sha256 ?? "?"),
    );
    assert.deepEqual(described.cachedImages, [image]);
  });

  it("answers a failed upload with the snapshot it kept, which restores", async () => {
    // A file where the snapshot's directory would be: the upload fails after the sandbox is gone.
    writeFileSync(join(dir, "not-a-dir"), "");
    const blocked = pathToFileURL(join(dir, "not-a-dir", "wired", "2")).href;
    const kept = await node.checkpoint({
      worker: "wb",
      actor,
      scope: "Full",
      destination: { kind: "external", uriPrefix: blocked },
    });
    assert.equal(kept.local, true);
    assert.ok(kept.uploadError?.startsWith(`uploading the snapshot to ${blocked} failed (`));
    assert.ok(kept.uri.startsWith(pathToFileURL(state).href), kept.uri);
    await node.restore({ worker: "wa", actor, source: kept.uri, scope: "Full" });
    assert.deepEqual(await hit("wa"), { memory: 4, file: 4, actor: "wired" });
    await node.stop("wa");
    assert.equal((await node.listWorkers()).find((w) => w.name === "wa")?.actor, undefined);
  });
});
