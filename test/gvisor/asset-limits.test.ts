// Asset downloads through the whole resume path: the real control plane and node agent (its
// workers are real network namespaces; the asset is fetched before any sandbox starts). A
// download that hangs fails the resume in about a second (short test timeouts) and the worker
// is FREE again; a url at this node's loopback is refused without a request.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { actorTemplate, sandboxConfig, sha, workerPool } from "../../src/api/testing.ts";
import {
  ActorTemplateType,
  SandboxConfigType,
  WorkerPoolType,
} from "../../src/api/v1alpha1/index.ts";
import { PoolController } from "../../src/controller/index.ts";
import { ControlPlane, StaticNodeDirectory } from "../../src/controlplane/index.ts";
import { Code, isAteError } from "../../src/errors/index.ts";
import { silentLogger } from "../../src/log/index.ts";
import { NodeAgent } from "../../src/node/index.ts";
import { Records, SqliteRecordStore } from "../../src/records/index.ts";
import { SqliteResourceStore } from "../../src/resources/index.ts";
import { GvisorDriver } from "../../src/sandbox/index.ts";

describe("asset downloads on resume", { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-asset-limits-"));
  const state = join(dir, "node");
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const hanging = new Set<ServerResponse>();
  let requests = 0;
  const server = createServer((_req, res) => {
    requests++;
    res.writeHead(200, { "content-length": "1000000" });
    res.flushHeaders();
    hanging.add(res);
  });
  let port = 0;
  const agent = (allowHosts: string[]) =>
    new NodeAgent({
      stateDir: state,
      drivers: [
        new GvisorDriver({ stateDir: state, network: { prefix: "atsa", subnetBase: 160 } }),
      ],
      assetAllowHosts: allowHosts,
      assetTimeouts: { idleMs: 500 },
    });
  const allowing = agent(["127.0.0.1"]);
  const strict = agent([]);
  let node = allowing;
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({
      n1: new Proxy({} as NodeAgent, {
        get: (_t, prop) => {
          const v = Reflect.get(node, prop, node);
          return typeof v === "function" ? v.bind(node) : v;
        },
      }),
    }),
  });
  const ref = { atespace: "t", name: "a1" };

  before(async () => {
    assert.equal(process.getuid?.(), 0, "these tests need root (network namespaces)");
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
    await resources.create(
      SandboxConfigType,
      sandboxConfig("hangs", {
        default: true,
        assets: { amd64: { runsc: { url: `http://127.0.0.1:${port}/runsc`, sha256: sha("9") } } },
      }),
    );
    await resources.create(WorkerPoolType, workerPool("pool", { replicas: 1 }));
    await resources.create(ActorTemplateType, actorTemplate("counter"));
    await new PoolController({
      resources,
      records,
      nodes: new StaticNodeDirectory({ n1: allowing }),
      logger: silentLogger,
    }).reconcile();
    await cp.createAtespace("t");
    await cp.createActor(ref, "default", "counter");
  });

  after(async () => {
    for (const r of hanging) r.destroy();
    server.close();
    for (const w of await allowing.listWorkers())
      await allowing.deleteWorker(w.name).catch(() => {});
    await records.store.close();
    await resources.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const workerIsFree = async () => {
    const [worker] = await cp.listWorkers();
    assert.equal(worker?.actor, undefined, "the worker is FREE again");
    assert.equal((await cp.getActor(ref)).status, "SUSPENDED");
    assert.equal((await allowing.listWorkers())[0]?.actor, undefined);
  };

  it("a hanging download fails the resume within the idle timeout and frees the worker, every time", async () => {
    for (let i = 0; i < 2; i++) {
      const started = Date.now();
      await assert.rejects(cp.resumeActor(ref, true), (e) => {
        assert.ok(isAteError(e, Code.DeadlineExceeded), String(e));
        assert.match(
          (e as Error).message,
          new RegExp(
            `asset runsc \\(http://127.0.0.1:${port}/runsc\\): no data for 500 ms \\(idle timeout\\)`,
          ),
        );
        return true;
      });
      assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
      await workerIsFree();
    }
  });

  it("an asset url at this node's loopback is refused without a request unless allowed", async () => {
    await strict.recover(); // the same node, restarted without --asset-allow-host
    node = strict;
    requests = 0;
    await assert.rejects(
      cp.resumeActor(ref, true),
      (e) =>
        isAteError(e, Code.PermissionDenied) &&
        /127\.0\.0\.1:\d+ is a loopback address.*--asset-allow-host 127\.0\.0\.1/.test(String(e)),
    );
    assert.equal(requests, 0);
    await workerIsFree();
  });
});
