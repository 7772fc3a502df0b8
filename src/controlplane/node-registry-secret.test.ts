// A live node registering again at its URL with a new call secret, against real node API
// servers on loopback: a node that restarted proves the secret by answering a call made with
// it; someone holding the node's token but not its address is refused, and nothing changes.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { Code, isAteError } from "../errors/index.ts";
import {
  NodeClient,
  type NodeRegistration,
  nodeHttpTransport,
  type RunningNodeApiServer,
  startNodeApiServer,
} from "../node/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { NodeRegistry } from "./node-registry.ts";

function registration(url: string): NodeRegistration {
  return {
    name: "n1",
    url,
    entry: "127.0.0.1:7481",
    address: "127.0.0.1",
    arch: "amd64",
    sandboxClasses: ["gvisor"],
    capacity: { workers: 8, source: "--max-workers 8", memoryBytes: 2 ** 33, cpuMillis: 4000 },
    cachedAssets: [],
    cachedImages: [],
  };
}

describe("a live node registering again with a new call secret", () => {
  let records: Records;
  let registry: NodeRegistry;
  let t: number;
  const clock = { now: () => new Date(t) };
  const servers: RunningNodeApiServer[] = [];
  /** A real node API on loopback with its own secret (a node's restart: a new one). */
  const serve = async (callSecret: string, port = 0) => {
    const s = await startNodeApiServer({ agent: new NoopNodeAgent(), callSecret, port });
    servers.push(s);
    return s;
  };
  const at = registration;
  const fresh = (n: number) => `node-secret-${n}-0123456789abcdef`;

  beforeEach(() => {
    t = Date.parse("2026-01-01T00:00:00Z");
    records = new Records(new SqliteRecordStore(":memory:"));
    registry = new NodeRegistry({
      records,
      clock,
      allowLoopbackNodes: true,
      verifyTimeoutMs: 2000,
      dial: (r) => new NodeClient(nodeHttpTransport(r.url, r.callSecret), `node ${r.name}`),
    });
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
    await records.store.close();
  });

  it("is refused when the node there does not take it (a stolen token), and nothing changes", async () => {
    const real = await serve(fresh(1));
    await registry.register(at(real.url), fresh(1));
    await assert.rejects(
      registry.register(at(real.url), fresh(666)),
      (err) =>
        isAteError(err, Code.PermissionDenied) &&
        /node n1 is registered from http:\/\/127\.0\.0\.1:\d+ and heartbeating, and the node there refuses the new call secret/.test(
          err.message,
        ) &&
        !err.message.includes(fresh(666)),
    );
    assert.equal(
      (await records.getNode("n1"))?.callSecret,
      fresh(1),
      "the real node's secret kept",
    );
    assert.deepEqual(await registry.get("n1").listWorkers(), [], "and it is still reached");
    // Tries come one per verifyTimeoutMs per node: a token cannot make calls without end.
    await assert.rejects(
      registry.register(at(real.url), fresh(667)),
      (err) => isAteError(err, Code.Unavailable) && /refused less than 2s ago/.test(err.message),
    );
    // The same secret again is no new secret: nothing to prove.
    await registry.register(at(real.url), fresh(1));
  });

  it("is taken when the node restarted with it; a node that does not answer is not", async () => {
    const first = await serve(fresh(1));
    const port = Number(new URL(first.url).port);
    await registry.register(at(first.url), fresh(1));
    await first.close();
    await assert.rejects(
      registry.register(at(first.url), fresh(2)),
      (err) =>
        isAteError(err, Code.Unavailable) &&
        /needs the node at http:\/\/127\.0\.0\.1:\d+ to answer a call with that secret/.test(
          err.message,
        ),
    );
    assert.equal((await records.getNode("n1"))?.callSecret, fresh(1));
    t += 2000;
    const restarted = await serve(fresh(2), port);
    await registry.register(at(restarted.url), fresh(2));
    assert.equal((await records.getNode("n1"))?.callSecret, fresh(2));
    assert.deepEqual(await registry.get("n1").listWorkers(), []);
    // A proven secret holds nothing back: restarted again at once, it is taken again.
    await restarted.close();
    const again = await serve(fresh(3), port);
    await registry.register(at(again.url), fresh(3));
    assert.equal((await records.getNode("n1"))?.callSecret, fresh(3));
    // Silent past lostAfterMs: a node registering anew needs no proof.
    await again.close();
    t += 10_001;
    await registry.register(at(again.url), fresh(4));
    assert.equal((await records.getNode("n1"))?.callSecret, fresh(4));
  });
});
