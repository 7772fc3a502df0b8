// A node on the network must register its actor entry point, on its own address: routers
// reach its workers only there, presenting its entry token.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { Code, isAteError } from "../errors/index.ts";
import type { NodeRegistration } from "../node/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { checkNodeEntry } from "./node-entry.ts";
import { NodeRegistry } from "./node-registry.ts";

const node = (address: string, entry?: string): NodeRegistration => ({
  name: "n1",
  url: `http://${address.includes(":") ? `[${address}]` : address}:7444`,
  address,
  ...(entry !== undefined ? { entry } : {}),
  arch: "amd64",
  sandboxClasses: ["gvisor"],
  capacity: { workers: 8, source: "test", memoryBytes: 2 ** 30, cpuMillis: 1000 },
  cachedAssets: [],
  cachedImages: [],
});

describe("a node's entry point at registration", () => {
  it("is accepted on the node's own address, loopback included for a loopback node", () => {
    for (const [address, entry] of [
      ["10.0.0.5", "10.0.0.5:7481"],
      ["127.0.0.1", "127.0.0.1:40123"],
      ["fd00::5", "[fd00::5]:7481"],
      ["fd00:0:0::5", "[fd00::5]:7481"],
    ] as const)
      assert.doesNotThrow(() => checkNodeEntry(node(address, entry)), `${address} ${entry}`);
  });

  it("is required, naming the field and what to do", () => {
    for (const entry of [undefined, ""])
      assert.throws(
        () => checkNodeEntry(node("10.0.0.5", entry)),
        (err) =>
          isAteError(err, Code.InvalidArgument) &&
          /^registration\.entry: .*required for a node on the network: routers reach its workers only through its actor entry point .*e\.g\. 10\.0\.0\.5:7481/.test(
            err.message,
          ),
      );
  });

  it("is refused anywhere but the node's address: another host, this host's loopback, metadata", () => {
    for (const entry of [
      "10.0.0.6:7481",
      "127.0.0.1:7481",
      "169.254.169.254:80",
      "[::1]:7481",
      "localhost:7481",
      "ate-router.internal:7481",
      "10.0.0.5.evil.example:7481",
    ])
      assert.throws(
        () => checkNodeEntry(node("10.0.0.5", entry)),
        (err) =>
          isAteError(err, Code.InvalidArgument) &&
          err.message.includes(
            `registration.entry: Invalid value: ${JSON.stringify(entry)}: must be on the node's own address (registration.address 10.0.0.5)`,
          ),
        entry,
      );
  });
});

describe("the node registry and entry points", () => {
  it("refuses a node on the network without one, at register and heartbeat; ate up's own node needs none", async () => {
    const records = new Records(new SqliteRecordStore(":memory:"));
    const inProcessNodeUrl = "http://in-process.invalid/";
    const registry = new NodeRegistry({
      records,
      dial: () => new NoopNodeAgent(),
      inProcessNodeUrl,
    });
    const secret = "s3cret-0123456789abcdef";
    try {
      const entryRequired = (err: unknown) =>
        isAteError(err, Code.InvalidArgument) &&
        /^registration\.entry: .*required/.test(err.message);
      await assert.rejects(registry.register(node("10.0.0.5"), secret), entryRequired);
      await assert.rejects(
        registry.register(node("10.0.0.5", "10.0.0.9:7481"), secret),
        /own address/,
      );
      assert.equal(await records.getNode("n1"), undefined, "nothing stored");
      await registry.register(node("10.0.0.5", "10.0.0.5:7481"), secret);
      await assert.rejects(
        registry.heartbeat(node("10.0.0.5")),
        entryRequired,
        "nor dropped later",
      );
      await assert.rejects(
        registry.heartbeat(node("10.0.0.5", "10.0.0.9:7481")),
        /own address/,
        "nor moved to another host",
      );
      assert.equal((await records.getNode("n1"))?.entry, "10.0.0.5:7481");

      const local = { ...node("127.0.0.1"), name: "local", url: inProcessNodeUrl };
      await registry.register(local, secret);
      assert.equal((await records.getNode("local"))?.entry, undefined);
    } finally {
      await records.store.close();
    }
  });
});
