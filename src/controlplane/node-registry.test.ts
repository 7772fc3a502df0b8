// The node registry on SQLite records and a fake clock: what a registration may hold (hostile
// input refused naming the field), where it lets the control plane call (no SSRF), register
// and heartbeat, who is live, and the node agents it dials for the control plane.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { Code, isAteError } from "../errors/index.ts";
import type { NodeAgentApi, NodeRegistration } from "../node/index.ts";
import { type NodeRecord, Records, SqliteRecordStore } from "../records/index.ts";
import { NodeRegistry, nodeRegistryDefaults } from "./node-registry.ts";

const secret = "s3cret-0123456789abcdef";

function registration(name = "n1", more: Partial<NodeRegistration> = {}): NodeRegistration {
  const r: NodeRegistration = {
    name,
    url: "http://10.0.0.5:7444",
    address: "10.0.0.5",
    arch: "amd64",
    sandboxClasses: ["gvisor"],
    capacity: { workers: 8, source: "--max-workers 8", memoryBytes: 2 ** 33, cpuMillis: 4000 },
    cachedAssets: ["a".repeat(64)],
    cachedImages: [`registry.local/app@sha256:${"c".repeat(64)}`],
    ...more,
  };
  // A node on the network has its actor entry point on its own address.
  const host = r.address.includes(":") ? `[${r.address}]` : r.address;
  return "entry" in more ? r : { ...r, entry: `${host}:7481` };
}

describe("the node registry", () => {
  let records: Records;
  let registry: NodeRegistry;
  let t: number;
  const clock = { now: () => new Date(t) };
  const dialed: NodeRecord[] = [];
  const agent = new NoopNodeAgent();

  beforeEach(() => {
    t = Date.parse("2026-01-01T00:00:00Z");
    dialed.length = 0;
    records = new Records(new SqliteRecordStore(":memory:"));
    registry = new NodeRegistry({
      records,
      clock,
      dial: (r) => {
        dialed.push(r);
        return agent;
      },
    });
  });
  afterEach(async () => {
    await records.store.close();
  });

  it("has documented defaults, and refuses timings that would lose nodes on one late heartbeat", () => {
    assert.deepEqual(nodeRegistryDefaults, {
      heartbeatMs: 2000,
      lostAfterMs: 10_000,
      verifyTimeoutMs: 3000,
    });
    assert.equal(registry.heartbeatMs, 2000);
    assert.equal(registry.lostAfterMs, 10_000);
    assert.throws(
      () => new NodeRegistry({ records, dial: () => agent, heartbeatMs: 5000, lostAfterMs: 6000 }),
      (err) => isAteError(err, Code.InvalidArgument) && /^lostAfterMs: /.test(err.message),
    );
    assert.throws(
      () => new NodeRegistry({ records, dial: () => agent, heartbeatMs: 0 }),
      (err) => isAteError(err, Code.InvalidArgument) && /^heartbeatMs: /.test(err.message),
    );
  });

  it("refuses hostile or malformed registrations, naming the field", async () => {
    const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
    const cases: [Partial<NodeRegistration> | Record<string, unknown>, RegExp][] = [
      [
        { name: "Bad_Name" },
        /^registration\.name: Invalid value: "Bad_Name": a lowercase RFC 1123/,
      ],
      [{ name: "n".repeat(300) }, /^registration\.name: .*must be at most 253 characters/],
      [{ name: 7 }, /^registration\.name: Invalid value: 7: must be a string/],
      [{ url: "ftp://n1:7444" }, /^registration\.url: .*must be an http:\/\/ or https:\/\/ URL/],
      [{ url: "not a url" }, /^registration\.url: .*absolute http\(s\) URL/],
      [{ url: "http://user:pw@n1:7444" }, /^registration\.url: .*must not carry credentials/],
      [
        { url: `http://10.0.0.5:7444/${"x".repeat(3000)}` },
        /^registration\.url: .*at most 2048 characters/,
      ],
      [{ entry: "10.0.0.5" }, /^registration\.entry: .*must be host:port/],
      [{ entry: "10.0.0.5:99999" }, /^registration\.entry: /],
      [{ entry: "::1:7481" }, /^registration\.entry: /],
      [{ address: "10.0.0.5; rm -rf /" }, /^registration\.address: /],
      [{ arch: "AMD64" }, /^registration\.arch: .*Go architecture name/],
      [{ sandboxClasses: [] }, /^registration\.sandboxClasses: .*at least one/],
      [{ sandboxClasses: ["kvm"] }, /^registration\.sandboxClasses\[0\]: .*gvisor, microvm/],
      [
        { sandboxClasses: ["gvisor", "gvisor"] },
        /^registration\.sandboxClasses: .*must not repeat/,
      ],
      [
        { capacity: { workers: -1, source: "", memoryBytes: 0, cpuMillis: 0 } },
        /^registration\.capacity\.workers: Invalid value: -1: must be an integer from 0 to 100000/,
      ],
      [
        { capacity: { workers: 1, source: "", memoryBytes: 2 ** 60, cpuMillis: 0 } },
        /^registration\.capacity\.memoryBytes: /,
      ],
      [
        { capacity: { workers: 1.5, source: "", memoryBytes: 0, cpuMillis: 0 } },
        /^registration\.capacity\.workers: /,
      ],
      [
        { capacity: { workers: 1, source: "", memoryBytes: 0, cpuMillis: "1" } },
        /^registration\.capacity\.cpuMillis: /,
      ],
      [
        { capacity: { workers: 1, source: "\u0000bell", memoryBytes: 0, cpuMillis: 0 } },
        /^registration\.capacity\.source: .*printable/,
      ],
      [{ capacity: null }, /^registration\.capacity: /],
      [{ cachedAssets: ["ABC"] }, /^registration\.cachedAssets\[0\]: .*64 lowercase hex/],
      [
        { cachedAssets: many(1025, (i) => i.toString(16).padStart(64, "0")) },
        /^registration\.cachedAssets: .*at most 1024 items/,
      ],
      [
        { cachedImages: ["registry.local/app:latest"] },
        /^registration\.cachedImages\[0\]: .*pinned/,
      ],
      [{ cachedImages: "x" }, /^registration\.cachedImages: .*must be a list/],
    ];
    for (const [bad, message] of cases) {
      const r = { ...registration(), ...bad } as NodeRegistration;
      await assert.rejects(
        registry.register(r, secret),
        (err) => isAteError(err, Code.InvalidArgument) && message.test(err.message),
        `${JSON.stringify(bad).slice(0, 80)} → ${message}`,
      );
    }
    for (const bad of ["short", "has spaces in it, far too many", "x".repeat(600), "é".repeat(20)])
      await assert.rejects(
        registry.register(registration(), bad),
        (err) =>
          isAteError(err, Code.InvalidArgument) &&
          /^callSecret: /.test(err.message) &&
          !err.message.includes(bad),
      );
    assert.deepEqual(await records.listNodes(), [], "nothing of them was stored");
    await assert.rejects(registry.heartbeat({ ...registration(), arch: "" }), (err) =>
      isAteError(err, Code.InvalidArgument),
    );
  });

  it("registers nodes, lists the live ones without their secret, and dials each once per secret", async () => {
    const result = await registry.register(registration("n1", { entry: "10.0.0.5:7481" }), secret);
    assert.deepEqual(result, { heartbeatMs: 2000, lostAfterMs: 10_000, staleWorkers: [] });
    await registry.register(registration("n2.rack-1"), secret);
    const live = await registry.list();
    assert.deepEqual(
      live.map((n) => n.name),
      ["n1", "n2.rack-1"],
    );
    assert.ok(
      live.every((n) => !("callSecret" in n)),
      "the secret never leaves the registry",
    );
    assert.equal(live[0]?.entry, "10.0.0.5:7481");
    assert.equal(live[0]?.state, "Ready");
    assert.deepEqual(await registry.names(), ["n1", "n2.rack-1"]);

    const n1: NodeAgentApi = registry.get("n1");
    await n1.listWorkers();
    await n1.createWorker("w1");
    assert.equal(dialed.length, 1, "one client per (name, url, secret)");
    assert.equal(dialed[0]?.callSecret, secret);
    assert.deepEqual(
      (await n1.listWorkers()).map((w) => w.name),
      ["w1"],
    );
    await registry.register(registration("n1"), `${secret}-new`); // restarted: a new secret
    assert.equal(dialed.length, 2, "the new secret proven first, by a call with it");
    await n1.listWorkers();
    assert.equal(dialed.length, 3);
    assert.equal(dialed[2]?.callSecret, `${secret}-new`);
    assert.equal((await records.getNode("n1"))?.entry, "10.0.0.5:7481");

    await assert.rejects(
      registry.get("ghost").listWorkers(),
      (err) =>
        isAteError(err, Code.Unavailable) && /node ghost is not registered/.test(err.message),
    );
  });

  it("keeps nodes live by heartbeats, refreshing what they cache", async () => {
    await registry.register(registration(), secret);
    t += 9000;
    const beat = await registry.heartbeat(registration("n1", { cachedAssets: ["b".repeat(64)] }));
    assert.deepEqual(beat.staleWorkers, []);
    t += 9000;
    const [n1] = await registry.list();
    assert.deepEqual(n1?.cachedAssets, ["b".repeat(64)]);
    t += 1001;
    assert.deepEqual(await registry.list(), [], "late: not live (though not yet declared lost)");
    assert.deepEqual(await registry.names(), ["n1"], "but still callable");
    await assert.rejects(
      registry.heartbeat(registration("ghost")),
      (err) => isAteError(err, Code.NotFound) && /register again/.test(err.message),
    );
    await assert.rejects(
      registry.heartbeat(registration("n1", { url: "http://10.0.0.6:7444", address: "10.0.0.6" })),
      (err) => isAteError(err, Code.NotFound),
      "another process with its name: register",
    );
  });

  it("refuses a second host taking a heartbeating node's name", async () => {
    await registry.register(registration(), secret);
    const impostor = registration("n1", { url: "http://10.9.9.9:7444", address: "10.9.9.9" });
    await assert.rejects(
      registry.register(impostor, secret),
      (err) =>
        isAteError(err, Code.AlreadyExists) &&
        /node n1 is already registered from http:\/\/10\.0\.0\.5:7444/.test(err.message),
    );
    t += 10_001; // the first is silent past lostAfterMs: the name may be taken
    await registry.register(impostor, secret);
    assert.equal((await records.getNode("n1"))?.url, "http://10.9.9.9:7444");
  });

  it("lets the control plane call nodes only at their own address: no names, paths, loopback, metadata", async () => {
    const at = (address: string, url: string) => registration("n1", { address, url });
    const cases: [NodeRegistration, RegExp][] = [
      [
        at("10.0.0.5", "http://n1.example:7444"),
        /^registration\.url: .*must be http\(s\):\/\/<address>:<port> with this node's address \(registration\.address 10\.0\.0\.5\).*e\.g\. http:\/\/10\.0\.0\.5:7444/,
      ],
      [
        at("n1.example", "http://n1.example:7444"),
        /^registration\.address: .*must be the node's IP address/,
      ],
      [at("10.0.0.5", "http://10.0.0.6:7444"), /^registration\.url: /],
      [at("10.0.0.5", "http://10.0.0.5"), /^registration\.url: .*explicit port/],
      [at("10.0.0.5", "http://10.0.0.5:7444/admin"), /^registration\.url: .*no path/],
      [at("10.0.0.5", "http://10.0.0.5:0"), /^registration\.url: /],
      [at("10.0.0.5", "http://0x0a.0.0.5:7444"), /^registration\.url: /],
      [at("127.0.0.1", "http://127.0.0.1:7444"), /^registration\.address: .*loopback/],
      [at("127.9.9.9", "http://127.9.9.9:22"), /^registration\.address: .*loopback/],
      [at("127.0.0.1", "http://2130706433:7444"), /^registration\.address: .*loopback/],
      [at("::1", "http://[::1]:7444"), /^registration\.address: .*loopback/],
      [at("169.254.169.254", "http://169.254.169.254:80"), /^registration\.address: .*link-local/],
      [at("169.254.170.2", "http://169.254.170.2:80"), /link-local/],
      [at("::ffff:169.254.169.254", "http://[::ffff:169.254.169.254]:80"), /link-local/],
      [at("fe80::1", "http://[fe80::1]:7444"), /link-local/],
      [at("fd00:ec2::254", "http://[fd00:ec2::254]:80"), /metadata/],
      [at("100.100.100.200", "http://100.100.100.200:80"), /metadata/],
      [at("0.0.0.0", "http://0.0.0.0:7444"), /unspecified/],
      [at("::", "http://[::]:7444"), /unspecified/],
      [at("224.0.0.1", "http://224.0.0.1:7444"), /multicast/],
      [at("ff02::1", "http://[ff02::1]:7444"), /multicast/],
      [at("255.255.255.255", "http://255.255.255.255:7444"), /broadcast/],
      [at("64:ff9b::a9fe:a9fe", "http://[64:ff9b::a9fe:a9fe]:80"), /NAT64/],
      [at("::ffff:10.0.0.5", "http://[::ffff:10.0.0.5]:7444"), /IPv4-mapped/],
      [at("10.0.0.5", "http://in-process.invalid/"), /^registration\.url: /],
    ];
    for (const [r, message] of cases) {
      await assert.rejects(
        registry.register(r, secret),
        (err) => isAteError(err, Code.InvalidArgument) && message.test(err.message),
        `${r.address} ${r.url} → ${message}`,
      );
      await assert.rejects(registry.heartbeat(r), (err) => isAteError(err, Code.InvalidArgument));
    }
    assert.deepEqual(await records.listNodes(), [], "nothing of them was stored");

    // A node's own address, at an explicit port; IPv6 compared in its canonical form.
    const good = [
      ["10.0.0.5", "http://10.0.0.5:7444/"],
      ["10.0.0.5", "https://10.0.0.5:80"],
      ["FD00:0::5", "http://[fd00::5]:7444"],
      ["100.64.0.7", "http://100.64.0.7:7444"],
    ] as const;
    for (const [i, [address, url]] of good.entries())
      await registry.register(registration(`ok${i}`, { address, url }), secret);
    assert.equal((await registry.list()).length, good.length);

    // Loopback: for a control plane serving on loopback only; the in-process URL: ate up's.
    const local = new NodeRegistry({
      records,
      clock,
      dial: () => agent,
      allowLoopbackNodes: true,
      inProcessNodeUrl: "http://in-process.invalid/",
    });
    await local.register(
      registration("lo4", { address: "127.0.0.1", url: "http://127.0.0.1:7444" }),
      secret,
    );
    await local.register(registration("lo6", { address: "::1", url: "http://[::1]:7444" }), secret);
    await local.register(registration("up", { url: "http://in-process.invalid/" }), secret);
    await assert.rejects(
      local.register(at("169.254.169.254", "http://169.254.169.254:80"), secret),
      (err) => isAteError(err, Code.InvalidArgument),
      "metadata stays refused",
    );
  });

  it("answers a registering node the workers whose actors moved on", async () => {
    await records.putWorker({
      namespace: "default",
      pool: "p",
      name: "w-stale",
      uid: "u",
      node: "n1",
      address: "10.0.0.9",
      actor: { atespace: "t", templateNamespace: "default", templateName: "c", actorId: "gone" },
      version: 0,
    });
    const result = await registry.register(registration(), secret);
    assert.deepEqual(result.staleWorkers, ["w-stale"]);
  });
});
