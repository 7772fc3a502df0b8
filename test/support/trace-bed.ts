// For the trace tests: a router, a control plane and a real node agent in this process, each
// hop in process (as `ate up` wires them) or over the wire (the node API over h2c, the Control
// API over HTTP with a router token), with one suspended actor whose committed snapshot the
// node really restores: every restore step runs, on a driver whose "sandbox" is an HTTP server
// at the worker's loopback address answering readyz and requests.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { actorTemplate, sandboxConfig, workerPool } from "../../src/api/testing.ts";
import {
  ActorTemplateType,
  SandboxConfigType,
  WorkerPoolType,
} from "../../src/api/v1alpha1/index.ts";
import { openBlobStore } from "../../src/blob/index.ts";
import { ControlPlane, StaticNodeDirectory } from "../../src/controlplane/index.ts";
import type { PulledImage } from "../../src/node/images/index.ts";
import {
  ImageStore,
  inProcessNodeTransport,
  NodeAgent,
  NodeClient,
  nodeHttpTransport,
  startNodeApiServer,
} from "../../src/node/index.ts";
import { Records, SqliteRecordStore } from "../../src/records/index.ts";
import { SqliteResourceStore } from "../../src/resources/index.ts";
import {
  controlHttpTransport,
  inProcessControlTransport,
  inProcessRouterPrincipal,
  RemoteBackend,
  Router,
} from "../../src/router/index.ts";
import type { SandboxDriver, WorkerRef } from "../../src/sandbox/index.ts";
import { manifestFormatVersion, type SnapshotManifest } from "../../src/snapshots/index.ts";
import { startTestApi, type TestApi } from "./api-server.ts";
import { freePort } from "./ports.ts";

const image = `registry.local/app@sha256:${"c".repeat(64)}`;

/** Sandboxes that are HTTP servers at the worker's address: readyz and requests say "ok". */
class ServingDriver implements SandboxDriver {
  readonly sandboxClass = "gvisor" as const;
  readonly requiredAssets = ["runsc"] as const;
  private readonly servers = new Map<string, http.Server>();
  constructor(readonly port: number) {}
  address(worker: WorkerRef): string {
    return `127.0.0.${worker.index + 2}`;
  }
  async prepareWorker(worker: WorkerRef) {
    return { address: this.address(worker) };
  }
  async releaseWorker(worker: WorkerRef) {
    await this.stop(worker);
  }
  async run(worker: WorkerRef) {
    await this.serve(worker);
  }
  async restore(worker: WorkerRef) {
    await this.serve(worker);
  }
  async checkpoint(worker: WorkerRef) {
    await this.stop(worker);
  }
  async adopt() {
    return false;
  }
  async stop(worker: WorkerRef) {
    const s = this.servers.get(worker.name);
    this.servers.delete(worker.name);
    s?.closeAllConnections();
    if (s) await new Promise((resolve) => s.close(resolve));
  }
  async close() {
    for (const [name] of this.servers) await this.stop({ name, index: 0 });
  }
  private async serve(worker: WorkerRef) {
    const server = http.createServer((_req, res) => res.end("ok"));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, this.address(worker), resolve);
    });
    this.servers.set(worker.name, server);
  }
}

/** Images already "pulled": no registry in these tests. */
class PulledImages extends ImageStore {
  override async ensure(reference: string): Promise<PulledImage> {
    const digest = reference.split("@")[1] as string;
    return {
      reference,
      digest,
      manifestDigest: digest,
      rootfs: "/",
      config: { config: { Cmd: ["/app"] } },
    };
  }
}

export interface TraceBed {
  /** The router's URL: `${url}/actors/t/<actor>/` reaches a suspended actor. */
  url: string;
  agent: NodeAgent;
  cp: ControlPlane;
  close(): Promise<void>;
}

/** `actors`: suspended actors of atespace t, each on a worker of its own. */
export async function traceBed(
  actors: string[],
  o: { nodeOverWire?: boolean; controlOverHttp?: boolean } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), "ate-trace-"));
  const port = await freePort();
  const driver = new ServingDriver(port);
  const agent = new NodeAgent({
    stateDir: join(dir, "node"),
    drivers: [driver],
    images: new PulledImages({ dir: join(dir, "images") }),
  });
  const runsc = join(dir, "runsc");
  writeFileSync(runsc, "#!/bin/sh\n");
  const sha256 = createHash("sha256").update("#!/bin/sh\n").digest("hex");
  await agent.assets.seed(runsc, sha256);
  const callSecret = "s".repeat(43);
  const nodeServer = o.nodeOverWire
    ? await startNodeApiServer({ port: 0, agent, callSecret })
    : undefined;
  const node = new NodeClient(
    nodeServer
      ? nodeHttpTransport(nodeServer.url, callSecret)
      : inProcessNodeTransport(agent, callSecret),
    "node n1",
  );
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const cp = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({ n1: node }) });
  await resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
  await resources.create(WorkerPoolType, workerPool("p", { replicas: actors.length }));
  // What a restore runs (and probes) is the snapshot's manifest's workload, not the template's.
  const template = actorTemplate("c");
  template.metadata.annotations = { "ate.dev/http-port": String(port) };
  await resources.create(ActorTemplateType, template);
  for (const [i] of actors.entries()) {
    const w = await agent.createWorker(`w-${i}`);
    await records.putWorker({
      namespace: "default",
      pool: "p",
      name: w.name,
      uid: `p-${i}`,
      node: "n1",
      address: w.address,
      version: 0,
    });
  }
  await records.createAtespace("t");
  for (const actorId of actors) {
    const owner = { atespace: "t", actorId, templateNamespace: "default", templateName: "c" };
    const uri = pathToFileURL(join(dir, "snaps", actorId, "s1")).href;
    // An actor named broken-… has a snapshot record whose manifest was never written.
    if (!actorId.startsWith("broken"))
      await committed(uri, {
        formatVersion: manifestFormatVersion,
        scope: "Full",
        actor: owner,
        createdAt: new Date().toISOString(),
        arch: agent.arch,
        sandboxClass: "gvisor",
        assets: { runsc: { url: pathToFileURL(runsc).href, sha256 } },
        images: { main: image },
        workload: { containers: [{ name: "main", image, readyz: { path: "/readyz", port } }] },
        snapshotFiles: [],
      });
    await records.createActor({
      ...owner,
      status: "SUSPENDED",
      createdAt: new Date().toISOString(),
      latestSnapshot: { type: "EXTERNAL", scope: "Full", uri },
      snapshots: [uri],
    });
  }
  let api: TestApi | undefined;
  let transport = inProcessControlTransport(cp, inProcessRouterPrincipal());
  if (o.controlOverHttp) {
    api = await startTestApi({ controlPlane: cp, resources });
    const { text } = await api.tokens.create({ name: "r1", role: "router" });
    transport = controlHttpTransport(api.url, text);
  }
  const router = new Router({
    backend: new RemoteBackend({
      transport,
      templates: resources,
      templateCacheMs: 0,
      directAllowed: (address) => address.startsWith("127."),
    }),
  });
  router.start();
  const server = http.createServer(router.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    agent,
    cp,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await router.stop();
      await api?.close();
      await nodeServer?.close();
      await driver.close();
      await agent.close();
      await records.store.close();
      await resources.close();
      rmSync(dir, { recursive: true, force: true });
    },
  } satisfies TraceBed;
}

/** The manifest alone commits a snapshot with no files (the driver restores nothing). */
async function committed(uri: string, manifest: SnapshotManifest): Promise<string> {
  await openBlobStore(uri).put("manifest.json", Buffer.from(JSON.stringify(manifest)));
  return uri;
}
