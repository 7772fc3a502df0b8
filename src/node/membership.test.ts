// A node's membership loop against a registry reached through the NodeRegistry service: it
// registers with what the node has, tears down stale workers before it is ready, heartbeats,
// registers again after NOT_FOUND, retries failures, and ends when stopped.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { createRouterTransport } from "@connectrpc/connect";
import { AteError, Code } from "../errors/index.ts";
import { NodeRegistry } from "../proto/gen/ateapi/node_pb.ts";
import type {
  NodeDescription,
  NodeRegistration,
  NodeRegistrationResult,
  NodeRegistryApi,
} from "./api.ts";
import { NodeMembership } from "./membership.ts";
import { NodeRegistryClient, nodeRegistryService } from "./wire/index.ts";

/** Waits for a condition, failing after a deadline (no fixed sleeps). */
async function until(what: string, f: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

class FakeRegistry implements NodeRegistryApi {
  readonly events: string[] = [];
  registrations: NodeRegistration[] = [];
  secrets: string[] = [];
  stale: string[] = [];
  /** Heartbeats answered NOT_FOUND from now on, until the next register. */
  forgotten = false;
  /** Registers that fail before one succeeds. */
  failures = 0;

  private answer(): NodeRegistrationResult {
    return { heartbeatMs: 20, lostAfterMs: 100, staleWorkers: this.stale.splice(0) };
  }
  async register(r: NodeRegistration, secret: string): Promise<NodeRegistrationResult> {
    if (this.failures-- > 0) throw new AteError(Code.Unavailable, "the control plane is starting");
    this.events.push("register");
    this.registrations.push(r);
    this.secrets.push(secret);
    this.forgotten = false;
    return this.answer();
  }
  async heartbeat(r: NodeRegistration): Promise<NodeRegistrationResult> {
    if (this.forgotten) throw new AteError(Code.NotFound, `node ${r.name} is not registered`);
    this.events.push("heartbeat");
    this.registrations.push(r);
    return this.answer();
  }
}

function fakeAgent(registry: FakeRegistry) {
  const description: NodeDescription = {
    arch: "amd64",
    sandboxClasses: ["gvisor"],
    cachedAssets: ["a".repeat(64)],
    cachedImages: [`reg/app@sha256:${"b".repeat(64)}`],
  };
  return {
    description,
    stopped: [] as string[],
    async describe() {
      return { ...description };
    },
    async stop(worker: string) {
      if (worker === "gone") throw new AteError(Code.NotFound, `worker ${worker} does not exist`);
      registry.events.push(`stop ${worker}`);
      this.stopped.push(worker);
    },
  };
}

const identity = {
  name: "n1",
  url: "http://10.0.0.5:7444",
  entry: "10.0.0.5:7481",
  address: "10.0.0.5",
  capacity: { workers: 8, source: "--max-workers 8", memoryBytes: 2 ** 34, cpuMillis: 4000 },
};

describe("node membership", () => {
  it("registers, tears down stale workers before it is ready, heartbeats, and re-registers after NOT_FOUND", async () => {
    const registry = new FakeRegistry();
    registry.stale = ["w1", "gone"];
    registry.failures = 2;
    const agent = fakeAgent(registry);
    const secret = randomBytes(32).toString("base64url");
    const membership = new NodeMembership({
      registry: new NodeRegistryClient(
        createRouterTransport((r) => r.service(NodeRegistry, nodeRegistryService(registry))),
      ),
      agent,
      identity,
      callSecret: secret,
      retryMs: 10,
    });
    const ac = new AbortController();
    const running = membership.run({ signal: ac.signal });
    await membership.ready;
    assert.deepEqual(registry.events, ["register", "stop w1"], "stale workers down before ready");
    assert.deepEqual(registry.registrations[0], { ...identity, ...agent.description });
    assert.deepEqual(registry.secrets, [secret]);

    await until(
      "two heartbeats",
      () => registry.events.filter((e) => e === "heartbeat").length >= 2,
    );
    registry.stale = ["w2"];
    await until("a stale worker from a heartbeat", () => agent.stopped.includes("w2"));
    agent.description.cachedAssets.push("c".repeat(64));
    await until(
      "the new cache in a heartbeat",
      () => registry.registrations.at(-1)?.cachedAssets.includes("c".repeat(64)) ?? false,
    );

    registry.forgotten = true;
    registry.stale = ["w3"];
    await until(
      "registered again",
      () => registry.events.filter((e) => e === "register").length === 2,
    );
    await until("its stale worker down", () => agent.stopped.includes("w3"));

    ac.abort();
    await running;
    const settled = registry.events.length;
    await new Promise((r) => setTimeout(r, 60)); // three heartbeat periods: nothing more happens
    assert.equal(registry.events.length, settled, "nothing runs after run() resolved");
  });

  it("is not ready while a stale worker cannot be stopped, and tries again", async () => {
    const registry = new FakeRegistry();
    let refusals = 2;
    let stopped = false;
    const agent = {
      ...fakeAgent(registry),
      async stop(worker: string) {
        if (refusals-- > 0) throw new AteError(Code.Internal, `runsc kill ${worker}: busy`);
        stopped = true;
      },
    };
    // The registry names the stale worker at every registration until it is down.
    const naming: NodeRegistryApi = {
      register: async (r, s) => ({
        ...(await registry.register(r, s)),
        staleWorkers: stopped ? [] : ["stuck"],
      }),
      heartbeat: (r) => registry.heartbeat(r),
    };
    const membership = new NodeMembership({
      registry: naming,
      agent,
      identity,
      callSecret: randomBytes(32).toString("hex"),
      retryMs: 10,
    });
    const ac = new AbortController();
    const running = membership.run({ signal: ac.signal });
    await membership.ready;
    assert.ok(stopped, "ready only once the stale worker was stopped");
    assert.equal(registry.events.filter((e) => e === "register").length, 3, "tried again");
    ac.abort();
    await running;
  });
});
