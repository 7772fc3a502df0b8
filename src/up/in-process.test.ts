// ate up's in-process transports keep the rules of the wire: its node registers only as itself,
// and the control plane reaches only its own node, with the secret it registered.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { Code, isAteError } from "../errors/index.ts";
import {
  inProcessNodeTransport,
  type NodeRegistration,
  type NodeRegistryApi,
  NodeRegistryClient,
} from "../node/index.ts";
import type { NodeRecord } from "../records/index.ts";
import { inProcessDial, inProcessNodePrincipal, inProcessRegistryTransport } from "./in-process.ts";
import type { RunningNode } from "./node-component.ts";

const registration = (name: string): NodeRegistration => ({
  name,
  url: "http://in-process.invalid/",
  address: "127.0.0.1",
  arch: "amd64",
  sandboxClasses: ["gvisor"],
  capacity: { workers: 2, source: "test", memoryBytes: 2 ** 30, cpuMillis: 2000 },
  cachedAssets: [],
  cachedImages: [],
});

describe("ate up's in-process transports", () => {
  it("lets its node register and heartbeat only under its own name", async () => {
    const reached: string[] = [];
    const registry: NodeRegistryApi = {
      async register(r) {
        reached.push(`register ${r.name}`);
        return { heartbeatMs: 2000, lostAfterMs: 10_000, staleWorkers: [] };
      },
      async heartbeat(r) {
        reached.push(`heartbeat ${r.name}`);
        return { heartbeatMs: 2000, lostAfterMs: 10_000, staleWorkers: [] };
      },
    };
    const client = new NodeRegistryClient(
      inProcessRegistryTransport(registry, inProcessNodePrincipal("n1")),
    );
    await client.register(registration("n1"), "s".repeat(32));
    await client.heartbeat(registration("n1"));
    for (const call of [
      () => client.register(registration("n2"), "s".repeat(32)),
      () => client.heartbeat(registration("n2")),
    ])
      await assert.rejects(
        call(),
        (e) =>
          isAteError(e, Code.PermissionDenied) &&
          /node token "n1" may not (register|heartbeat) as node "n2"/.test(e.message),
      );
    assert.deepEqual(reached, ["register n1", "heartbeat n1"]);
  });

  it("dials only its own node, registered with its secret", async () => {
    const agent = new NoopNodeAgent();
    const secret = "x".repeat(43);
    const node = {
      name: "n1",
      callSecret: secret,
      transport: inProcessNodeTransport(agent, secret),
    } as RunningNode;
    const dial = inProcessDial(() => node);
    const record = (name: string, callSecret: string) => ({ name, callSecret }) as NodeRecord;
    assert.deepEqual(await dial(record("n1", secret)).listWorkers(), await agent.listWorkers());
    for (const r of [record("n2", secret), record("n1", "y".repeat(43))])
      assert.throws(
        () => dial(r),
        (e) => isAteError(e, Code.Unavailable) && /is not this ate up's node/.test(e.message),
      );
    assert.throws(
      () => inProcessDial(() => undefined)(record("n1", secret)),
      (e) => isAteError(e, Code.Unavailable),
    );
  });
});
