// Two substrates on one machine, neither told which network to use: their workers' network
// namespaces, interfaces and addresses must differ; flags that collide are refused naming the
// flag, and so are the names and addresses of a node agent that claims nothing.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { workerPool } from "../../src/api/testing.ts";
import { WorkerPoolType } from "../../src/api/v1alpha1/index.ts";
import { Code, isAteError } from "../../src/errors/index.ts";
import { silentLogger } from "../../src/log/index.ts";
import { NodeAgent } from "../../src/node/index.ts";
import type { NetworkOptions } from "../../src/sandbox/gvisor/index.ts";
import { GvisorDriver } from "../../src/sandbox/index.ts";
import { type RunningSubstrate, startSubstrate } from "../../src/up/index.ts";
import { removeLeftoverWorkers } from "../support/leftover-workers.ts";
import { hostAddresses, workerNetworkNames } from "../support/machine-workers.ts";

describe("two substrates on one machine", { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-two-"));
  const running: RunningSubstrate[] = [];
  const bare = { prefix: "atqx", subnetBase: 180 } satisfies NetworkOptions;
  const bareAgent = new NodeAgent({
    stateDir: join(dir, "bare"),
    drivers: [new GvisorDriver({ stateDir: join(dir, "bare"), network: bare })],
  });

  const start = async (name: string, network?: NetworkOptions) => {
    const s = await startSubstrate({
      runsc: false,
      stateDir: join(dir, name),
      apiAddr: "127.0.0.1:0",
      routerAddr: "127.0.0.1:0",
      nodeName: "node-1",
      resyncMs: 200,
      logger: silentLogger,
      ...(network ? { network } : {}),
    });
    running.push(s);
    return s;
  };
  const stop = async (s: RunningSubstrate) => {
    running.splice(running.indexOf(s), 1);
    await s.stop();
  };
  const workers = async (s: RunningSubstrate, n: number) => {
    for (let i = 0; i < 600; i++) {
      const list = await s.controlPlane.listWorkers();
      if (list.length === n) return list;
      await sleep(50);
    }
    throw new Error(`substrate did not get ${n} workers`);
  };

  after(async () => {
    for (const s of running.splice(0)) await s.stop().catch(() => {});
    for (const w of await bareAgent.listWorkers()) await bareAgent.deleteWorker(w.name);
    for (const name of ["a", "b"]) {
      try {
        const path = join(dir, name, "network.json");
        const recorded = JSON.parse(readFileSync(path, "utf8")) as NetworkOptions;
        await removeLeftoverWorkers(join(dir, name, "node"), recorded);
      } catch {}
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("gives each its own names and addresses, kept across restarts", async () => {
    const a = await start("a");
    const b = await start("b");
    assert.notEqual(a.network.prefix, b.network.prefix);
    const [ra, rb] = [a.network, b.network].map((n) => [
      n.subnetBase,
      n.subnetBase + n.subnets - 1,
    ]) as [[number, number], [number, number]];
    assert.ok(ra[1] < rb[0] || rb[1] < ra[0], `ranges ${ra} and ${rb} overlap`);

    for (const s of [a, b])
      await s.resources.create(WorkerPoolType, workerPool("pool", { replicas: 2 }));
    const wa = await workers(a, 2);
    const wb = await workers(b, 2);
    const addressesOf = (ws: { address: string }[]) => new Set(ws.map((w) => w.address));
    const shared = [...addressesOf(wa)].filter((x) => addressesOf(wb).has(x));
    assert.deepEqual(shared, [], "no worker address in both");
    // On the machine: each one's namespaces and host links, each link with its own address.
    const names = (p: string) => workerNetworkNames(p).sort();
    assert.deepEqual(names(a.network.prefix), [
      `${a.network.prefix}-w0`,
      `${a.network.prefix}-w0`,
      `${a.network.prefix}-w0-sb`,
      `${a.network.prefix}-w1`,
      `${a.network.prefix}-w1`,
      `${a.network.prefix}-w1-sb`,
    ]);
    assert.equal(names(b.network.prefix).length, 6);
    const host = hostAddresses();
    for (const [s, ws] of [
      [a, wa],
      [b, wb],
    ] as const)
      for (let i = 0; i < 2; i++) {
        const link = host.get(`${s.network.prefix}-w${i}`) ?? [];
        assert.equal(link.length, 1);
        assert.ok(
          ws.some((w) => w.address.replace(/\.(\d+)$/, (_, d) => `.${Number(d) - 1}`) === link[0]),
          `host side ${link[0]} of ${s.network.prefix}-w${i} faces one of its workers`,
        );
      }

    const before = a.network;
    await stop(a);
    assert.deepEqual(workerNetworkNames(before.prefix), [], "a clean stop removes its workers");
    const again = await start("a");
    assert.deepEqual(again.network, before, "the same network after a restart");
    await stop(again);
  });

  it("refuses flags another substrate uses, naming the flag", async () => {
    const b = running[0] as RunningSubstrate;
    await assert.rejects(
      start("c", { prefix: b.network.prefix }),
      (e) =>
        isAteError(e, Code.FailedPrecondition) &&
        e.message.startsWith(`--net-prefix ${b.network.prefix} is in use by the ate up of `),
    );
    await assert.rejects(
      start("c", { prefix: "atec9", subnetBase: b.network.subnetBase + 1 }),
      (e) =>
        isAteError(e, Code.FailedPrecondition) &&
        e.message.startsWith(
          `--net-subnet ${b.network.subnetBase + 1} is in use by the ate up of `,
        ),
    );
  });

  it("sees a node agent that claimed nothing by its namespaces and addresses", async () => {
    await bareAgent.createWorker("bare-1");
    await assert.rejects(
      start("d", { prefix: bare.prefix }),
      new RegExp(`--net-prefix ${bare.prefix} is in use by ${bare.prefix}-w0`),
    );
    await assert.rejects(
      start("d", { prefix: "atd9", subnetBase: bare.subnetBase }),
      /--net-subnet 180 is in use by the (address 169\.254\.180\.1 on atqx-w0|route 169\.254\.180\.)/,
    );
    // A second bare agent on the same addresses is refused when it makes a worker.
    const clash = new NodeAgent({
      stateDir: join(dir, "clash"),
      drivers: [
        new GvisorDriver({
          stateDir: join(dir, "clash"),
          network: { prefix: "atqy", subnetBase: bare.subnetBase },
        }),
      ],
    });
    await assert.rejects(
      clash.createWorker("clash-1"),
      /worker address 169\.254\.180\.1\/30 is already used by interface atqx-w0/,
    );
    assert.deepEqual(workerNetworkNames("atqy"), [], "nothing of it is left");
  });
});
