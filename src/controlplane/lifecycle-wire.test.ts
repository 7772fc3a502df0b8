// The lifecycle with its node reached over the node API (a real server on loopback): a
// suspend whose upload failed records the actor where its snapshot really is, and a node that
// cannot be reached never leaves an actor mid-transition (resume and reconciler roll back).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { declareNoopPool } from "../../test/support/noop-pool.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import {
  type CheckpointRequest,
  type CheckpointResult,
  type NodeAgentApi,
  NodeClient,
  nodeHttpTransport,
  type RunningNodeApiServer,
  startNodeApiServer,
} from "../node/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { ControlPlane } from "./control-plane.ts";
import { StaticNodeDirectory } from "./nodes.ts";

/** Its uploads all fail: each external snapshot is kept on the node. */
class KeepingAgent extends NoopNodeAgent {
  override async checkpoint(req: CheckpointRequest): Promise<CheckpointResult> {
    await super.checkpoint(req);
    if (req.destination.kind === "local") return { uri: "file:///node/p", local: true, files: [] };
    return {
      uri: `file:///var/lib/ate/snapshots/${req.actor.atespace}/${req.actor.actorId}/kept`,
      local: true,
      files: [{ name: "checkpoint/pages.img", size: 4096, sha256: "a".repeat(64) }],
      uploadError: `uploading the snapshot to ${req.destination.uriPrefix} failed (connect ECONNREFUSED)`,
    };
  }
}

/** Its nodes stay listed as live, but `get` fails while `broken` (a node lost meanwhile). */
class BreakingDirectory extends StaticNodeDirectory {
  broken = false;
  override get(node: string): NodeAgentApi {
    if (this.broken) throw new AteError(Code.Unavailable, `node ${node} is not reachable`);
    return super.get(node);
  }
}

describe("the lifecycle over the node API", () => {
  const secret = randomBytes(32).toString("base64url");
  const resources = new SqliteResourceStore({ path: ":memory:" });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new KeepingAgent();
  const nodes: Record<string, NodeAgentApi> = {};
  const directory = new BreakingDirectory(nodes);
  const cp = new ControlPlane({ records, resources, nodes: directory });
  const ref = (name: string) => ({ atespace: "t", name });
  let server: RunningNodeApiServer;
  let wire: NodeAgentApi;

  before(async () => {
    server = await startNodeApiServer({ port: 0, agent, callSecret: secret });
    wire = new NodeClient(nodeHttpTransport(server.url, secret), "node n1");
    nodes.n1 = wire;
    await declareNoopPool(resources, records, agent, { replicas: 1 });
    await cp.createAtespace("t");
  });
  after(async () => {
    await server?.close();
    await records.store.close();
    await resources.close();
  });

  it("records a suspend whose upload failed as PAUSED at the snapshot the node kept", async () => {
    await cp.createActor(ref("a"), "default", "counter");
    await cp.resumeActor(ref("a"));
    await assert.rejects(
      cp.suspendActor(ref("a")),
      (e) =>
        isAteError(e, Code.Unavailable) &&
        /connect ECONNREFUSED\); the snapshot was kept on node n1 at file:\/\/\/var\/lib\/ate\/snapshots\/t\/a\/kept, and actor t\/a is PAUSED there/.test(
          e.message,
        ),
    );
    const a = await cp.getActor(ref("a"));
    assert.equal(a.status, "PAUSED");
    assert.deepEqual(a.latestSnapshot, {
      type: "LOCAL",
      scope: "Full",
      uri: "file:///var/lib/ate/snapshots/t/a/kept",
      nodes: ["n1"],
    });
    assert.equal(a.worker, undefined);
    assert.equal(a.transition, undefined);
    assert.ok(
      (await records.listWorkers()).every((w) => !w.actor),
      "its worker is free",
    );
  });

  it("rolls a resume back when the node cannot be reached, however it fails", async () => {
    const before = await cp.getActor(ref("a"));
    for (const unreachable of [
      () => {
        directory.broken = true; // the directory cannot give it
      },
      () => {
        directory.broken = false;
        // known, but nothing listens there
        nodes.n1 = new NodeClient(nodeHttpTransport("http://127.0.0.1:1", secret), "node n1");
      },
    ]) {
      unreachable();
      await assert.rejects(cp.resumeActor(ref("a")), (e) => isAteError(e, Code.Unavailable));
      const a = await cp.getActor(ref("a"));
      assert.equal(a.status, "PAUSED", "back where it was");
      assert.deepEqual(a.latestSnapshot, before.latestSnapshot);
      assert.equal(a.transition, undefined);
      assert.ok(
        (await records.listWorkers()).every((w) => !w.actor),
        "its worker is free",
      );
    }
    nodes.n1 = wire;
  });

  it("has the reconciler roll back an actor left RESUMING on a node it cannot reach", async () => {
    await cp.createActor(ref("r"), "default", "counter");
    const actor = await cp.getActor(ref("r"));
    const [worker] = await records.listWorkers();
    assert.ok(worker);
    await records.claimWorker(worker, {
      ...actor,
      status: "RESUMING",
      worker: {
        namespace: worker.namespace,
        name: worker.name,
        pool: worker.pool,
        node: worker.node,
        address: worker.address,
        uid: worker.uid,
      },
      transition: {
        op: "resume",
        owner: "a crashed control plane",
        expiresAt: 0,
        worker: worker.name,
      },
    });
    directory.broken = true;
    try {
      assert.equal(await cp.reconcile(), 1);
    } finally {
      directory.broken = false;
    }
    const r = await cp.getActor(ref("r"));
    assert.equal(r.status, "SUSPENDED");
    assert.equal(r.transition, undefined);
    assert.ok(
      (await records.listWorkers()).every((w) => !w.actor),
      "its worker is free",
    );
  });
});
