// ate on many machines, with hosts as network namespaces on one machine (see ate-cluster.ts):
// two `ate controlplane` on one Valkey behind a TCP load balancer, `ate node` on n1 and n2 (n3
// joins later), `ate router`, snapshots in s3rver. One cluster for every step, in order: an
// actor runs on n1, is suspended to S3, n1 dies (agent and sandboxes, SIGKILL), the router
// resumes the actor on n2 with its memory, files and pinned runtime; the actor that was running
// on n1 is SUSPENDED with NodeLost; 20 concurrent requests make one restore; kill -9 of the
// leading control plane mid-resume; a node that joins later takes work.
//
// The runtime: the control plane declares the default runsc at <api>/assets/sha256/<hex>. A
// node is never seeded with it (only `ate up` seeds its own node), so the digest file in n2's
// fresh asset cache was fetched over http from the control plane; n2 could run the machine's
// runsc too, but ate only runs what its cache holds by digest.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Actor_Status } from "../../src/proto/gen/ateapi/control_pb.ts";
import type { Actor } from "../../src/records/index.ts";
import { counterTemplate } from "../support/counter-resources.ts";
import { type AteCluster, bucket, leaseHolder, startAteCluster, waitFor } from "./ate-cluster.ts";

type Count = { memory: number; file: number; actor: string };

describe("ate on many machines", { timeout: 6 * 60_000 }, () => {
  let c: AteCluster;
  /** The runsc digest alice's suspended snapshot pins. */
  let pinned = "";
  let lastMemory = 0;

  const request = async (actor: string): Promise<Count> => {
    const res = await fetch(`${c.router}/actors/default/${actor}/`, {
      signal: AbortSignal.timeout(90_000),
    });
    const body = await res.text();
    assert.equal(res.status, 200, `${actor} through the router: ${res.status} ${body}`);
    return JSON.parse(body) as Count;
  };
  const actor = (id: string): Promise<Actor> => c.records.getActor("default", id);
  /** The node of the worker the actor runs on, as its Worker record says. */
  const nodeOf = async (id: string) => {
    const { actor: a } = await c.control.getActor({ actorRef: { atespace: "default", name: id } });
    assert.equal(a && Actor_Status[a.status], "RUNNING", `${id} is running`);
    const { workers } = await c.control.listWorkers({});
    return workers.find((w) => w.workerPod === a?.ateomPodName)?.nodeName;
  };
  const workersOn = async () => {
    const { workers } = await c.control.listWorkers({});
    const by = new Map<string, { free: number; busy: number }>();
    for (const w of workers) {
      const n = by.get(w.nodeName) ?? { free: 0, busy: 0 };
      if (w.actorId) n.busy++;
      else n.free++;
      by.set(w.nodeName, n);
    }
    return by;
  };
  const running = (cp: string, id: string) =>
    (c.controlPlanes.get(cp)?.output() ?? "")
      .split("\n")
      .filter((l) => l.includes('"actor running"') && l.includes(`"default/${id}"`)).length;
  const context = () => c?.logs() ?? "";

  before(async () => {
    c = await startAteCluster({
      prefix: "atcl",
      controlPlanes: ["cp1", "cp2"],
      nodes: ["n1", "n2", "n3"],
      netPrefix: "acl",
      subnetBase: 40,
      maxWorkers: 3,
    });
    await c.startNode("n1");
    const template = counterTemplate("counter", {
      image: c.image,
      snapshotsDir: "",
      replicas: 2,
    });
    (template.spec as { snapshotsConfig: unknown }).snapshotsConfig = {
      location: `s3://${bucket}/cluster`,
    };
    const manifests = [
      {
        apiVersion: "ate.dev/v1alpha1",
        kind: "WorkerPool",
        metadata: { name: "pool", namespace: "default" },
        spec: { replicas: 2, ateomImage: "local" },
      },
      template,
    ];
    await c.ok(["apply", "-f", "-"], manifests.map((m) => JSON.stringify(m)).join("\n---\n"));
    await waitFor(
      "the counter template's golden snapshot",
      async () =>
        JSON.parse(await c.ok(["get", "actortemplate", "counter", "-o", "json"])).status?.phase ===
        "Ready",
      120_000,
      context,
      1000, // each look runs bin/ate
    );
  });

  after(async () => {
    await c?.stop();
  });

  it("runs an actor created through the API on n1", async () => {
    for (const id of ["alice", "bob"]) await c.ok(["create", "actor", id, "-t", "default/counter"]);
    assert.deepEqual(await request("alice"), { memory: 1, file: 1, actor: "alice" });
    assert.deepEqual(await request("alice"), { memory: 2, file: 2, actor: "alice" });
    assert.equal(await nodeOf("alice"), "n1");
    await request("bob");
    assert.equal(await nodeOf("bob"), "n1");
  });

  it("refuses a node's and a router's token what their roles may not do", async () => {
    const token = (name: string) => readFileSync(join(c.hosts.dir, `${name}.token`), "utf8").trim();
    const asNode = await c.ate(["--token", token("n1"), "get", "actors"]);
    assert.equal(asNode.code, 1);
    assert.match(asNode.err, /node token "n1" may not call/);
    const asRouter = await c.ate([
      "--token",
      token("router"),
      "create",
      "actor",
      "x",
      "-t",
      "counter",
    ]);
    assert.equal(asRouter.code, 1);
    assert.match(asRouter.err, /router token "router" may not call/);
    const forged = await c.ate(["--token", `${token("n1")}x`, "get", "actors"]);
    assert.equal(forged.code, 1);
    assert.match(forged.err, /token/);
  });

  it("suspends it to S3, its manifest pinning the runtime the control plane serves", async () => {
    assert.match(await c.ok(["suspend", "actor", "alice"]), /actor\/alice suspended/);
    const uri = (await actor("alice")).latestSnapshot?.uri ?? "";
    assert.match(uri, new RegExp(`^s3://${bucket}/cluster/`));
    const s3 = new S3Client({
      endpoint: c.s3.url,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    });
    const key = `${uri.slice(`s3://${bucket}/`.length)}/manifest.json`;
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const manifest = JSON.parse(await (got.Body?.transformToString() ?? "{}")) as {
      assets: { runsc: { url: string; sha256: string } };
    };
    s3.destroy();
    pinned = manifest.assets.runsc.sha256;
    assert.equal(manifest.assets.runsc.url, `${c.api}/assets/sha256/${pinned}`);
    assert.equal(pinned, createHash("sha256").update(readFileSync("/usr/bin/runsc")).digest("hex"));
  });

  it("resumes it on n2 after n1 dies (SIGKILL), with memory, files and the pinned runtime", async () => {
    await c.startNode("n2");
    // The pool evens out: n1's free worker moves to n2; bob's stays on n1.
    await waitFor(
      "a free worker on n2 and none on n1",
      async () => {
        const by = await workersOn();
        return by.get("n2")?.free === 1 && !by.get("n1")?.free;
      },
      90_000,
      context,
    );
    await c.crashNode("n1");
    assert.deepEqual(await request("alice"), { memory: 3, file: 3, actor: "alice" });
    assert.equal(await nodeOf("alice"), "n2");
    // What n2's agent restored alice with (its record of the worker's actor): the pinned runsc,
    // from its own cache, where it came over http from the control plane.
    const agent = join(c.nodeState("n2"), "node");
    const worker = (await actor("alice")).worker?.name ?? "";
    const restored = JSON.parse(
      readFileSync(join(agent, "workers", worker, "actor.json"), "utf8"),
    ) as { assets: { runsc: { url: string; sha256: string } }; runtimePaths: { runsc: string } };
    const cached = join(agent, "assets", "sha256", pinned);
    assert.deepEqual(restored.assets.runsc, {
      url: `${c.api}/assets/sha256/${pinned}`,
      sha256: pinned,
    });
    assert.equal(restored.runtimePaths.runsc, cached);
    assert.equal(createHash("sha256").update(readFileSync(cached)).digest("hex"), pinned);
  });

  it("sends the actors running on a lost node back to SUSPENDED, reason NodeLost", async () => {
    const bob = await waitFor(
      "bob back at SUSPENDED once n1 misses its heartbeats",
      async () => {
        const a = await actor("bob");
        return a.status === "SUSPENDED" && a.lastExit?.reason === "NodeLost" && a;
      },
      40_000,
      context,
    );
    assert.match(bob.lastExit?.message ?? "", /n1/);
    assert.match(await c.ok(["get", "actors", "-o", "wide"]), /\bbob\s+SUSPENDED\b.*\bNodeLost\b/);
    assert.equal((await c.records.getNode("n1"))?.state, "Lost");
    // Its workers left the records; the pool made them again on n2.
    await waitFor(
      "the pool's two workers on n2",
      async () => {
        const by = await workersOn();
        return !by.has("n1") && (by.get("n2")?.free ?? 0) + (by.get("n2")?.busy ?? 0) === 2;
      },
      60_000,
      context,
    );
  });

  it("serves 20 concurrent requests to a suspended actor with one restore", async () => {
    await c.ok(["suspend", "actor", "alice"]);
    const before = running("cp1", "alice") + running("cp2", "alice");
    const counts = await Promise.all(Array.from({ length: 20 }, () => request("alice")));
    // One sandbox served them all: each memory count once, carrying on from 3.
    assert.deepEqual(
      counts.map((x) => x.memory).sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => 4 + i),
    );
    lastMemory = 23;
    assert.equal(running("cp1", "alice") + running("cp2", "alice"), before + 1, context());
  });

  it("settles an actor whose resume the leading control plane died in; the other leads within 15 s", async () => {
    await c.ok(["suspend", "actor", "alice"]);
    const cp1 = c.controlPlanes.get("cp1");
    const cp2 = c.controlPlanes.get("cp2");
    assert.ok((await leaseHolder(c.records))?.includes(`-${cp1?.pid}-`), "cp1 leads");
    // Through the load balancer, which prefers cp1: the resume runs in the leader.
    const resume = c.control
      .resumeActor({ actorRef: { atespace: "default", name: "alice" } })
      .catch((err: Error) => err);
    // Polled often: a restore takes about a second.
    await waitFor(
      "alice RESUMING",
      async () => {
        const a = await actor("alice");
        if (a.status === "RUNNING") throw new Error("alice was RUNNING before cp1 could be killed");
        return a.status === "RESUMING";
      },
      30_000,
      context,
      5,
    );
    await c.hosts.host("cp1").crash();
    const killed = Date.now();
    await waitFor(
      "cp2 leads",
      async () => (await leaseHolder(c.records))?.includes(`-${cp2?.pid}-`),
      15_000,
      context,
    );
    assert.ok(Date.now() - killed <= 15_000);
    await resume;
    const settled = await waitFor(
      "alice settles (RUNNING or SUSPENDED, no transition)",
      async () => {
        const a = await actor("alice");
        return !a.transition && (a.status === "RUNNING" || a.status === "SUSPENDED") && a;
      },
      60_000,
      context,
    );
    assert.ok(settled);
    // Either way from the snapshot taken at the suspend: the count carries on.
    assert.equal((await request("alice")).memory, lastMemory + 1);
  });

  it("gives work to a node that joins later", async () => {
    await c.startNode("n3");
    // alice runs on n2; the pool's free worker moves to n3.
    await waitFor(
      "a free worker on n3",
      async () => {
        const by = await workersOn();
        return by.get("n3")?.free === 1 && !by.get("n2")?.free;
      },
      90_000,
      context,
    );
    await request("bob");
    assert.equal(await nodeOf("bob"), "n3");
  });
});
