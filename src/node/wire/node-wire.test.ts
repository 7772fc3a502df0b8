// The node API on the wire, against the real server on loopback (gRPC over HTTP/2 and Connect
// over HTTP/1.1) and in process: every field arrives as sent, results come back whole, logs
// stream in pieces, cancellation and deadlines reach the node's work, and only the holder of
// the call secret gets in.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { RecordingNodeAgent } from "../../../test/support/recording-node-agent.ts";
import { AteError, Code, isAteError } from "../../errors/index.ts";
import type { WorkerSettings } from "../../sandbox/index.ts";
import type {
  ActorIdentity,
  CheckpointRequest,
  CheckpointResult,
  RestoreRequest,
  RunRequest,
  WorkerInfo,
} from "../api.ts";
import { bearer } from "./bearer.ts";
import { NodeClient } from "./node-client.ts";
import { type RunningNodeApiServer, startNodeApiServer } from "./node-server.ts";
import { inProcessNodeTransport, nodeHttpTransport } from "./transports.ts";

const secret = randomBytes(32).toString("base64url");
const hex = (c: string) => c.repeat(64);
const actor: ActorIdentity = {
  atespace: "team-a",
  templateNamespace: "default",
  templateName: "counter.v1",
  actorId: "c1",
};
const settings: WorkerSettings = {
  limits: { memoryBytes: 256 * 2 ** 20, cpuMillis: 500 },
  egress: "none",
};
const run: RunRequest = {
  worker: "w1",
  actor,
  workload: {
    containers: [
      {
        name: "app",
        image: `registry.example:5000/app@sha256:${hex("a")}`,
        command: ["/bin/app", "--flag"],
        args: ["serve", ""],
        env: [
          { name: "A", value: "one\ntwo" },
          { name: "EMPTY", value: "" },
        ],
        readyz: { path: "/readyz", port: 8080, timeoutSeconds: 3 },
        volumeMounts: [{ name: "data", mountPath: "/data" }],
      },
      // Empty lists are not absent ones: both kinds cross as they are.
      {
        name: "side",
        image: `registry.example:5000/side@sha256:${hex("b")}`,
        command: [],
        env: [],
      },
      { name: "bare", image: `registry.example:5000/bare@sha256:${hex("c")}` },
    ],
    volumes: [{ name: "data", durableDir: {} }, { name: "scratch" }],
  },
  sandboxAssets: {
    sandboxClass: "gvisor",
    assets: {
      amd64: { runsc: { url: "https://assets.example/runsc-amd64", sha256: hex("d") } },
      arm64: { runsc: { url: "s3://bucket/runsc-arm64", sha256: hex("e") } },
    },
  },
};
const fullWorker: WorkerInfo = {
  name: "w1",
  address: "10.0.0.2",
  actor,
  settings,
  lastExit: {
    reason: "OOMKilled",
    message: "the sandbox went past its memory limit of 256Mi",
    exitCode: 137,
    at: "2026-11-30T16:33:14Z",
    actor,
  },
};
const bareWorkers: WorkerInfo[] = [
  { name: "w2", address: "10.0.0.3" },
  { name: "w3", address: "10.0.0.4", settings: {} },
  { name: "w4", address: "10.0.0.5", settings: { limits: {} } },
  { name: "w5", address: "10.0.0.6", settings: { egress: "default" } },
  {
    name: "w6",
    address: "10.0.0.7",
    lastExit: { reason: "Exited", message: "exit 0", at: "2026-11-30T16:33:15Z", actor },
  },
];

/** Waits for a condition, failing after a deadline (no fixed sleeps). */
async function until(what: string, f: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function rejectsWith(p: Promise<unknown>, code: Code, message?: RegExp): Promise<AteError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isAteError(err), `an AteError, not ${String(err)}`);
    assert.equal(Code[err.code], Code[code], err.message);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${Code[code]}`);
}

const agent = new RecordingNodeAgent();
let server: RunningNodeApiServer;

before(async () => {
  server = await startNodeApiServer({ host: "127.0.0.1", port: 0, agent, callSecret: secret });
});
after(async () => {
  await server?.close();
});

const transports: [string, () => Transport][] = [
  ["gRPC over HTTP/2", () => nodeHttpTransport(server.url, secret)],
  [
    "Connect over HTTP/1.1",
    () =>
      createConnectTransport({
        baseUrl: server.url,
        httpVersion: "1.1",
        interceptors: [bearer(secret)],
      }),
  ],
  ["in process", () => inProcessNodeTransport(agent, secret)],
];

for (const [name, transport] of transports) {
  describe(`the node API, ${name}`, () => {
    let node: NodeClient;
    before(() => {
      node = new NodeClient(transport(), "node n1");
    });
    const last = () => agent.calls.at(-1);

    it("carries every field of a run and of its worker answer, and nothing more", async () => {
      agent.worker = fullWorker;
      assert.deepEqual(await node.run(run), fullWorker);
      assert.deepEqual(last()?.args, [run]);
      assert.ok(last()?.signal, "the node's work runs with the call's signal");
    });

    it("keeps every worker's optional parts as they are, present or absent", async () => {
      agent.workers = [fullWorker, ...bareWorkers];
      assert.deepEqual(await node.listWorkers(), agent.workers);
      agent.worker = bareWorkers[0] as WorkerInfo;
      for (const s of [settings, {}, { limits: {} }, { egress: "default" as const }, undefined]) {
        assert.deepEqual(await node.createWorker("w9", s), bareWorkers[0]);
        assert.deepEqual(last()?.args, ["w9", s]);
      }
      await node.deleteWorker("w9");
      assert.deepEqual(last()?.args, ["w9"]);
      await node.stop("w1");
      assert.deepEqual(last()?.args, ["w1"]);
    });

    it("carries a freeze's and a thaw's actor, which the node checks against the worker's", async () => {
      await node.freeze({ worker: "w1", actor });
      assert.deepEqual(last()?.args, [{ worker: "w1", actor }]);
      await node.thaw({ worker: "w1", actor });
      assert.deepEqual(last()?.args, [{ worker: "w1", actor }]);
    });

    it("carries checkpoints and restores, and says where a snapshot really is", async () => {
      const requests: CheckpointRequest[] = [
        {
          worker: "w1",
          actor,
          scope: "Full",
          destination: { kind: "external", uriPrefix: "s3://bucket/snapshots/team-a/c1/x" },
        },
        { worker: "w1", actor, scope: "Data", destination: { kind: "local" } },
      ];
      const results: CheckpointResult[] = [
        {
          uri: "s3://bucket/snapshots/team-a/c1/x",
          local: false,
          files: [{ name: "checkpoint/pages.img", size: 5_000_000_000, sha256: hex("f") }],
        },
        {
          uri: "file:///var/lib/ate/snapshots/team-a/c1/y",
          local: true,
          files: [],
          uploadError: "uploading the snapshot to s3://bucket/x failed (connect ECONNREFUSED)",
        },
      ];
      for (const req of requests)
        for (const result of results) {
          agent.checkpointResult = result;
          assert.deepEqual(await node.checkpoint(req), result);
          assert.deepEqual(last()?.args, [req]);
        }
      const restores: RestoreRequest[] = [
        { worker: "w1", actor, source: "s3://b/p", scope: "Full", origin: "own" },
        { worker: "w1", actor, source: "s3://b/g", scope: "Data", origin: "golden" },
        { worker: "w1", actor, source: "file:///x", scope: "Full" },
        { worker: "w1", actor, source: "s3://b/p", scope: "Data", origin: "own", base: "s3://b/g" },
      ];
      agent.worker = fullWorker;
      for (const req of restores) {
        assert.deepEqual(await node.restore(req), fullWorker);
        assert.deepEqual(last()?.args, [req]);
      }
    });

    it("lists and removes the node's own snapshots", async () => {
      agent.localSnapshots = {
        location: "file:///var/lib/ate/node/snapshots",
        snapshots: [
          {
            uri: "file:///var/lib/ate/node/snapshots/team-a/c1/y",
            bytes: 5_000_000_000,
            modifiedAt: 1_767_225_600_123,
          },
        ],
      };
      assert.deepEqual(await node.listSnapshots(), agent.localSnapshots);
      assert.equal(await node.deleteSnapshot("file:///var/lib/ate/node/snapshots/t/a/y"), 7);
      assert.deepEqual(last()?.args, ["file:///var/lib/ate/node/snapshots/t/a/y"]);
    });

    it("streams several MiB of logs in pieces, from any offset", async () => {
      const output = randomBytes(5 * 1024 * 1024 + 123);
      agent.output.set("logged", output);
      const who = { ...actor, actorId: "logged" };
      for (const from of [0, 3 * 1024 * 1024 + 7, output.length, output.length + 10]) {
        const pieces: Uint8Array[] = [];
        for await (const piece of node.logs(who, { from })) pieces.push(piece);
        assert.ok(
          pieces.every((p) => p.length <= 1024 * 1024),
          "never more than a piece at once",
        );
        if (from < output.length) assert.ok(pieces.length > 1, "in several pieces");
        assert.ok(Buffer.concat(pieces).equals(output.subarray(from)));
      }
    });

    it("brings the node's errors back with their codes and messages", async () => {
      agent.failing.set(
        "restore",
        new AteError(Code.FailedPrecondition, "snapshot s3://b/p is actor x's, not c1's"),
      );
      try {
        await rejectsWith(
          node.restore({ worker: "w1", actor, source: "s3://b/p", scope: "Full" }),
          Code.FailedPrecondition,
          /^snapshot s3:\/\/b\/p is actor x's, not c1's$/,
        );
      } finally {
        agent.failing.delete("restore");
      }
    });

    it("aborts the node's work when the caller aborts, and at the deadline", async () => {
      agent.holding.add("run");
      try {
        const ac = new AbortController();
        const started = agent.nextCall();
        const call = node.run(run, { signal: ac.signal });
        const held = await started;
        ac.abort();
        await rejectsWith(call, Code.Canceled);
        await until("the node's signal to abort", () => held.signal?.aborted === true);

        const late = agent.nextCall();
        const timed = node.run(run, { timeoutMs: 300 });
        const heldToo = await late;
        await rejectsWith(timed, Code.DeadlineExceeded);
        await until("the node's signal to abort", () => heldToo.signal?.aborted === true);
      } finally {
        agent.holding.delete("run");
      }
    });

    it("refuses hostile names before the node sees them", async () => {
      const before = agent.calls.length;
      for (const bad of ["../../etc", "a/b", "", "UPPER", "x".repeat(64)]) {
        await rejectsWith(
          node.run({ ...run, actor: { ...actor, actorId: bad } }),
          Code.InvalidArgument,
          /actor\.actor_id/,
        );
        await rejectsWith(node.stop(bad), Code.InvalidArgument, /worker/);
        await rejectsWith(
          node
            .logs({ ...actor, atespace: bad })
            [Symbol.asyncIterator]()
            .next(),
          Code.InvalidArgument,
        );
      }
      await rejectsWith(
        node.run({
          ...run,
          sandboxAssets: {
            sandboxClass: "gvisor",
            assets: { amd64: { runsc: { url: "x", sha256: "00" } } },
          },
        }),
        Code.InvalidArgument,
        /sha256/,
      );
      assert.equal(agent.calls.length, before, "the agent was never called");
    });
  });
}

describe("the node API's door", () => {
  it("refuses calls without the secret, with another one, or with two headers", async () => {
    const before = agent.calls.length;
    const wrong = new NodeClient(nodeHttpTransport(server.url, randomBytes(32).toString("hex")));
    await rejectsWith(wrong.listWorkers(), Code.Unauthenticated);
    const none = new NodeClient(createGrpcTransport({ baseUrl: server.url }));
    await rejectsWith(none.listWorkers(), Code.Unauthenticated);
    const inProcess = new NodeClient(inProcessNodeTransport(agent, secret));
    assert.ok(await inProcess.listWorkers());
    const plain = await fetch(`${server.url}/ateapi.Node/ListWorkers`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${secret}x` },
      body: "{}",
    });
    assert.equal(plain.status, 401);
    const twice = await rawRequest(
      server.url,
      `POST /ateapi.Node/ListWorkers HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer ${secret}\r\nauthorization: Bearer other\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`,
    );
    assert.match(twice, /^HTTP\/1\.1 401/);
    assert.equal(agent.calls.length, before + 1, "only the in-process call with the secret got in");
  });

  it("refuses a request bigger than 4 MiB unread", async () => {
    const node = new NodeClient(nodeHttpTransport(server.url, secret));
    const big = {
      ...run,
      workload: {
        containers: [
          {
            ...(run.workload.containers[0] as object),
            name: "app",
            image: "x",
            env: [{ name: "BIG", value: "x".repeat(5 * 1024 * 1024) }],
          },
        ],
      },
    };
    await rejectsWith(node.run(big as RunRequest), Code.ResourceExhausted);
  });

  it("refuses a secret anyone could guess", () => {
    assert.throws(() => inProcessNodeTransport(agent, "short"), /at least 16/);
  });
});

function rawRequest(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), hostname, () => s.end(text));
    let got = "";
    s.on("data", (d) => {
      got += d.toString();
    });
    s.on("end", () => resolve(got));
    s.on("error", reject);
  });
}
