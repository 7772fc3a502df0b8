// The node agent's /metrics on its API port: checkpoint and restore latency by result, asset
// cache hits and misses, scraped as Prometheus does (no call secret), after real agent calls
// on a driver that runs nothing (the gVisor path is test/gvisor/metrics.test.ts).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import type { SandboxDriver, WorkerRef } from "../sandbox/index.ts";
import { NodeAgent } from "./node-agent.ts";
import { startNodeApiServer } from "./wire/index.ts";

/** A driver that runs nothing: these calls fail or succeed before any sandbox matters. */
class NothingDriver implements SandboxDriver {
  readonly sandboxClass = "gvisor" as const;
  readonly requiredAssets = ["runsc"] as const;
  async prepareWorker(worker: WorkerRef) {
    return { address: `169.254.9.${worker.index * 4 + 2}` };
  }
  async releaseWorker() {}
  async run() {}
  async checkpoint() {}
  async restore() {}
  async adopt() {
    return false;
  }
  async stop() {}
}

describe("node agent metrics", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-node-metrics-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("are served at /metrics on the node port without the call secret, after real calls", async () => {
    const agent = new NodeAgent({ stateDir: join(dir, "agent"), drivers: [new NothingDriver()] });
    const server = await startNodeApiServer({
      port: 0,
      agent,
      callSecret: "s".repeat(43),
      metrics: [agent.metrics.registry],
    });
    try {
      const file = join(dir, "runsc");
      writeFileSync(file, "#!/bin/sh\n");
      const sha256 = createHash("sha256").update("#!/bin/sh\n").digest("hex");
      await agent.assets.seed(file, sha256); // a miss: copied in
      await agent.assets.fetch({ url: pathToFileURL(file).href, sha256 }); // a hit
      await agent.createWorker("w1");
      const actor = {
        atespace: "t",
        templateNamespace: "default",
        templateName: "c",
        actorId: "a",
      };
      await assert.rejects(
        agent.checkpoint({
          worker: "w1",
          actor,
          scope: "Full",
          destination: { kind: "external", uriPrefix: pathToFileURL(join(dir, "snaps")).href },
        }),
        /runs no actor/,
      );
      await assert.rejects(
        agent.restore({
          worker: "w1",
          actor,
          scope: "Full",
          source: pathToFileURL(join(dir, "snaps", "none")).href,
        }),
      );

      const res = await fetch(`${server.url}/metrics`);
      assert.equal(res.status, 200);
      const page = await res.text();
      assert.match(page, /^ate_asset_cache_lookups_total\{result="miss"\} 1$/m);
      assert.match(page, /^ate_asset_cache_lookups_total\{result="hit"\} 1$/m);
      assert.match(page, /^# TYPE ate_node_checkpoint_seconds histogram$/m);
      assert.match(
        page,
        /^ate_node_checkpoint_seconds_count\{kind="suspend",result="failed_precondition"\} 1$/m,
      );
      assert.match(page, /^ate_node_restore_seconds_count\{result="[a-z_]+"\} 1$/m);
      assert.match(page, /^# TYPE ate_snapshot_read_bytes_total counter$/m);
      // Everything else on the port still needs the call secret.
      const rpc = await fetch(`${server.url}/ateapi.Node/ListWorkers`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      assert.equal(rpc.status, 401);
    } finally {
      await server.close();
      await agent.close();
    }
  });
});
