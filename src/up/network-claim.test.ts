// Choosing a substrate's worker network against other claims and a given view of the machine
// (the real machine's namespaces and addresses: test/gvisor/two-substrates.test.ts).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Code, isAteError } from "../errors/index.ts";
import type { MachineNetworkUse } from "../sandbox/gvisor/index.ts";
import { claimNetwork } from "./network-claim.ts";

const dir = mkdtempSync(join(tmpdir(), "ate-netclaim-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("claiming a worker network", () => {
  const claimsDir = join(dir, "claims");
  const machine: MachineNetworkUse = { names: [], linkLocal: [] };
  const claim = (state: string, requested = {}) =>
    claimNetwork({
      stateDir: join(dir, state),
      claimsDir,
      requested,
      machine: async () => machine,
    });

  it("takes the default first, then free names and ranges, and keeps each state dir's choice", async () => {
    assert.deepEqual(await claim("a"), { prefix: "ate", subnetBase: 64, subnets: 4 });
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "a", "network.json"), "utf8")), {
      prefix: "ate",
      subnetBase: 64,
      subnets: 4,
    });
    assert.deepEqual(await claim("b"), { prefix: "ate2", subnetBase: 68, subnets: 4 });
    assert.deepEqual(await claim("a"), { prefix: "ate", subnetBase: 64, subnets: 4 }, "restart");
    assert.deepEqual(await claim("b"), { prefix: "ate2", subnetBase: 68, subnets: 4 }, "restart");
    // Explicit flags that are free are taken as given.
    assert.deepEqual(await claim("c", { prefix: "atex", subnetBase: 200 }), {
      prefix: "atex",
      subnetBase: 200,
      subnets: 4,
    });
  });

  it("refuses explicit flags another substrate uses, naming the flag", async () => {
    await assert.rejects(
      claim("d", { prefix: "ate2" }),
      (e) =>
        isAteError(e, Code.FailedPrecondition) &&
        /^--net-prefix ate2 is in use by the ate up of .*\/b \(--net-prefix ate2 --net-subnet 68, pid \d+\): choose another --net-prefix/.test(
          e.message,
        ),
    );
    // 66..69 overlaps both 64..67 and 68..71.
    await assert.rejects(
      claim("d", { subnetBase: 66 }),
      (e) =>
        isAteError(e, Code.FailedPrecondition) && /^--net-subnet 66 is in use by/.test(e.message),
    );
    await assert.rejects(claim("d", { subnetBase: 252 }), /--net-subnet 252: give an integer/);
    await assert.rejects(
      claim("d", { subnetBase: 168 }),
      /--net-subnet 168: workers would use 169.254.169.0\/24/,
    );
    await assert.rejects(claim("d", { prefix: "Bad-1" }), /--net-prefix "Bad-1": must be/);
    assert.equal(existsSync(join(dir, "d", "network.json")), false, "nothing recorded");
  });

  it("avoids names and addresses the machine already uses (e.g. an older ate up)", async () => {
    machine.names = ["eth0", "ate3-w0", "ate3-w0-sb"];
    machine.linkLocal = [{ octet: 73, what: "address 169.254.73.1 on foo0", dev: "foo0" }];
    assert.deepEqual(await claim("e"), { prefix: "ate4", subnetBase: 76, subnets: 4 });
    await assert.rejects(
      claim("f", { prefix: "ate3" }),
      /--net-prefix ate3 is in use by ate3-w0 on this machine/,
    );
    await assert.rejects(
      claim("f", { subnetBase: 72 }),
      /--net-subnet 72 is in use by the address 169.254.73.1 on foo0 on this machine/,
    );
    machine.names = [];
    machine.linkLocal = [];
  });

  it("counts its own workers as its own, and keeps their network while they exist", async () => {
    const g = join(dir, "g");
    assert.deepEqual(await claim("g"), { prefix: "ate3", subnetBase: 72, subnets: 4 });
    // A forced stop left worker 0 behind: its namespaces and address are this state dir's.
    mkdirSync(join(g, "node"), { recursive: true });
    writeFileSync(join(g, "node", "workers.json"), JSON.stringify([{ name: "p-1", index: 0 }]));
    machine.names = ["ate3-w0", "ate3-w0-sb"];
    machine.linkLocal = [{ octet: 72, what: "address 169.254.72.1 on ate3-w0", dev: "ate3-w0" }];
    assert.deepEqual(await claim("g"), { prefix: "ate3", subnetBase: 72, subnets: 4 });
    await assert.rejects(
      claim("g", { prefix: "atey" }),
      /this state dir's 1 worker\(s\) still use --net-prefix ate3 --net-subnet 72: start with those/,
    );
    // Taken meanwhile by a substrate that did not see them (e.g. an older version).
    const other = join(claimsDir, "other.json");
    writeFileSync(
      other,
      JSON.stringify({
        prefix: "ate3",
        subnetBase: 200,
        subnets: 4,
        stateDir: "/x",
        pid: process.pid,
      }),
    );
    await assert.rejects(
      claim("g"),
      /worker\(s\) use --net-prefix ate3 --net-subnet 72, now in use by the ate up of \/x .*: stop that first/,
    );
    rmSync(other);
    machine.names = [];
    machine.linkLocal = [];
  });

  it("drops claims whose substrate and state dir are gone", async () => {
    writeFileSync(
      join(claimsDir, "stale.json"),
      JSON.stringify({
        prefix: "atez",
        subnetBase: 240,
        subnets: 4,
        stateDir: join(dir, "gone"),
        pid: 999_999_999,
      }),
    );
    assert.deepEqual(await claim("h", { prefix: "atez", subnetBase: 240 }), {
      prefix: "atez",
      subnetBase: 240,
      subnets: 4,
    });
    assert.equal(existsSync(join(claimsDir, "stale.json")), false);
  });

  it("takes over the choosing lock of a process that died while choosing", async () => {
    mkdirSync(join(claimsDir, ".lock"));
    writeFileSync(join(claimsDir, ".lock", "pid"), "999999999");
    assert.equal((await claim("j", { prefix: "atej", subnetBase: 220 })).prefix, "atej");
    assert.equal(existsSync(join(claimsDir, ".lock")), false);
  });

  it("lets one substrate choose at a time", async () => {
    const choices = await Promise.all(["i1", "i2", "i3"].map((s) => claim(s)));
    const prefixes = new Set(choices.map((c) => c.prefix));
    const bases = new Set(choices.map((c) => c.subnetBase));
    assert.equal(prefixes.size, 3);
    assert.equal(bases.size, 3);
  });
});
