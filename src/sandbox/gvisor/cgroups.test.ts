import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Code, isAteError } from "../../errors/index.ts";
import {
  detectCgroups,
  formatBytes,
  hasLimits,
  kernelLogNamesOom,
  WorkerCgroups,
} from "./cgroups.ts";
import { ociResources, ociSpec } from "./oci-spec.ts";

const dir = mkdtempSync(join(tmpdir(), "ate-cgroups-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A fake cgroup mount: each hierarchy a directory with the files that mark it. */
function fakeRoot(name: string, hierarchies: Record<string, string[]>): string {
  const root = join(dir, name);
  for (const [h, files] of Object.entries(hierarchies)) {
    mkdirSync(join(root, h), { recursive: true });
    for (const f of files) writeFileSync(join(root, h, f), "");
  }
  return root;
}

describe("cgroup layout", () => {
  it("reads a v1 (hybrid) machine: every hierarchy, the memory and cpu ones, not the v2 mount", () => {
    const root = fakeRoot("v1", {
      memory: ["cgroup.procs"],
      "cpu,cpuacct": ["cgroup.procs"],
      pids: ["cgroup.procs"],
      systemd: ["cgroup.procs"],
      unified: ["cgroup.procs", "cgroup.controllers"],
      "not-a-hierarchy": [],
    });
    symlinkSync("cpu,cpuacct", join(root, "cpu"));
    symlinkSync("cpu,cpuacct", join(root, "cpuacct"));
    const layout = detectCgroups(root);
    assert.deepEqual(layout, {
      version: 1,
      root,
      hierarchies: ["cpu,cpuacct", "memory", "pids", "systemd"].map((h) => join(root, h)),
      memory: join(root, "memory"),
      cpu: join(root, "cpu,cpuacct"),
      cpuacct: join(root, "cpu,cpuacct"),
    });
  });

  it("reads a v2 machine from its root's cgroup.controllers, and no cgroups as none", () => {
    const root = fakeRoot("v2", { ".": ["cgroup.controllers", "cgroup.procs"] });
    assert.deepEqual(detectCgroups(root), { version: 2, root });
    assert.equal(detectCgroups(join(dir, "missing")), undefined);
    assert.equal(detectCgroups(fakeRoot("empty", { x: [] })), undefined);
  });

  it("v1: makes the worker's cgroup in every hierarchy and removes it (and ate's above) again", async () => {
    const root = fakeRoot("v1-prepare", {
      memory: ["cgroup.procs"],
      cpu: ["cgroup.procs"],
      cpuacct: ["cgroup.procs"],
    });
    const cgroups = new WorkerCgroups("atx", root);
    await cgroups.prepare(3, { memoryBytes: 64 << 20, cpuMillis: 250 });
    for (const h of ["memory", "cpu", "cpuacct"])
      assert.ok(existsSync(join(root, h, "ate", "atx", "w3")));
    const leaf = cgroups.newLeaf(3);
    assert.match(leaf, /^\/ate\/atx\/w3\/sb-[0-9a-f]{8}$/);
    assert.notEqual(cgroups.newLeaf(3), leaf, "a fresh leaf every time");
    mkdirSync(join(root, "memory", leaf)); // one runsc left behind
    await cgroups.release(3);
    for (const h of ["memory", "cpu", "cpuacct"]) assert.ok(!existsSync(join(root, h, "ate")));
  });

  it("refuses limits a machine cannot enforce, naming the controller", async () => {
    const root = fakeRoot("v1-no-memory", { cpu: ["cgroup.procs"] });
    const cgroups = new WorkerCgroups("atx", root);
    await cgroups.prepare(0, { cpuMillis: 500 });
    await assert.rejects(
      cgroups.prepare(0, { memoryBytes: 1 << 30 }),
      (e) =>
        isAteError(e, Code.FailedPrecondition) &&
        /need the cgroup controller\(s\) memory, which this node does not have/.test(String(e)),
    );
    await assert.rejects(
      new WorkerCgroups("atx", join(dir, "missing")).prepare(0, { cpuMillis: 1 }),
      /no cgroups under \/sys\/fs\/cgroup/,
    );
  });

  it("v2: enables the controllers the limits need down to the worker's cgroup", async () => {
    const root = fakeRoot("v2-prepare", { ".": ["cgroup.procs"] });
    writeFileSync(join(root, "cgroup.controllers"), "cpuset cpu io memory pids\n");
    const cgroups = new WorkerCgroups("atx", root);
    await cgroups.prepare(1, { memoryBytes: 1 << 30 });
    for (const d of ["", "ate", "ate/atx", "ate/atx/w1"])
      assert.ok(existsSync(join(root, d, "cgroup.subtree_control")), d);
  });

  it("reads limits, usage and OOM kills the way each version writes them", async () => {
    const v1 = fakeRoot("v1-read", {
      memory: ["cgroup.procs"],
      cpu: ["cgroup.procs"],
      cpuacct: ["cgroup.procs"],
    });
    const c1 = new WorkerCgroups("atx", v1);
    const leaf = "/ate/atx/w0/sb-1";
    for (const h of ["memory", "cpu", "cpuacct"]) mkdirSync(join(v1, h, leaf), { recursive: true });
    writeFileSync(join(v1, "memory", leaf, "memory.limit_in_bytes"), "134217728\n");
    writeFileSync(
      join(v1, "memory", leaf, "memory.oom_control"),
      "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    );
    writeFileSync(join(v1, "cpu", leaf, "cpu.cfs_quota_us"), "50000\n");
    writeFileSync(join(v1, "cpu", leaf, "cpu.cfs_period_us"), "100000\n");
    writeFileSync(join(v1, "cpuacct", leaf, "cpuacct.usage"), "123456789\n");
    assert.equal(await c1.memoryLimit(leaf), 128 << 20);
    assert.equal(await c1.cpuMillis(leaf), 500);
    assert.equal(await c1.cpuUsageNs(leaf), 123456789);
    assert.equal(await c1.oomKills(leaf), 2);
    assert.equal(await c1.oomKills("/ate/atx/w0/gone"), 0);
    writeFileSync(join(v1, "memory", leaf, "memory.limit_in_bytes"), "9223372036854771712\n");
    assert.equal(await c1.memoryLimit(leaf), undefined, "v1's no limit");

    const v2 = fakeRoot("v2-read", { ".": ["cgroup.controllers"] });
    const c2 = new WorkerCgroups("atx", v2);
    mkdirSync(join(v2, leaf), { recursive: true });
    writeFileSync(join(v2, leaf, "memory.max"), "max\n");
    writeFileSync(join(v2, leaf, "cpu.max"), "25000 100000\n");
    writeFileSync(join(v2, leaf, "cpu.stat"), "usage_usec 1500\nuser_usec 1000\n");
    writeFileSync(
      join(v2, "ate/atx/w0/memory.events"),
      "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n",
    );
    assert.equal(await c2.memoryLimit(leaf), undefined);
    assert.equal(await c2.cpuMillis(leaf), 250);
    assert.equal(await c2.cpuUsageNs(leaf), 1_500_000);
    const baseline = await c2.beforeStart(0);
    assert.deepEqual(baseline, { kills: 1 });
    assert.equal(await c2.exitedOnOom(0, leaf, baseline, 1 << 30), false);
    writeFileSync(join(v2, "ate/atx/w0/memory.events"), "oom 2\noom_kill 2\n");
    assert.equal(await c2.exitedOnOom(0, leaf, baseline, 1 << 30), true);
  });

  it("finds an OOM kill of exactly this leaf in the kernel log", () => {
    const log = join(dir, "kmsg");
    writeFileSync(
      log,
      "6,2190,9652532176,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=sb-1,mems_allowed=0,oom_memcg=/ate/atx/w0/sb-1,task_memcg=/ate/atx/w0/sb-1,task=exe,pid=8033,uid=0\n",
    );
    assert.equal(kernelLogNamesOom("/ate/atx/w0/sb-1", log), true);
    assert.equal(kernelLogNamesOom("/ate/atx/w0/sb-", log), false, "not a prefix of it");
    assert.equal(kernelLogNamesOom("/ate/atx/w0/sb-2", log), false);
    assert.equal(kernelLogNamesOom("/x", join(dir, "no-kmsg")), undefined);
  });

  it("checks limits and writes them the way people read them", () => {
    assert.equal(hasLimits("w", undefined), false);
    assert.equal(hasLimits("w", {}), false);
    assert.equal(hasLimits("w", { cpuMillis: 500 }), true);
    assert.throws(
      () => hasLimits("w1", { memoryBytes: -5 }),
      (e) =>
        isAteError(e, Code.InvalidArgument) &&
        /worker w1: limits.memoryBytes -5 must be a whole number above 0 \(bytes\)/.test(String(e)),
    );
    assert.throws(() => hasLimits("w1", { cpuMillis: 0.5 }), /limits.cpuMillis 0.5/);
    assert.equal(formatBytes(128 << 20), "128Mi");
    assert.equal(formatBytes(2 * 2 ** 30), "2Gi");
    assert.equal(formatBytes(1000), "1000 bytes");
  });
});

describe("OCI spec limits", () => {
  const container = {
    name: "c",
    rootfs: "/r",
    args: ["/bin/app"],
    env: [],
    cwd: "/",
    uid: 0,
    gid: 0,
    mounts: [],
  };

  it("puts the worker's limits on a fresh cgroup leaf", () => {
    const spec = ociSpec(container, "h", "/var/run/netns/x", {
      path: "/ate/atx/w0/sb-1",
      limits: { memoryBytes: 128 << 20, cpuMillis: 500 },
    }) as { linux: Record<string, unknown> };
    assert.equal(spec.linux.cgroupsPath, "/ate/atx/w0/sb-1");
    assert.deepEqual(spec.linux.resources, {
      memory: { limit: 128 << 20 },
      cpu: { quota: 50_000, period: 100_000 },
    });
  });

  it("leaves cgroups to runsc's defaults without limits", () => {
    const spec = ociSpec(container, "h", "/var/run/netns/x") as { linux: Record<string, unknown> };
    assert.equal(spec.linux.cgroupsPath, undefined);
    assert.equal(spec.linux.resources, undefined);
  });

  it("gives only the limits asked for, and no CPU quota under the kernel's 1 ms or over its maximum", () => {
    assert.deepEqual(ociResources({ memoryBytes: 1 << 30 }), { memory: { limit: 1 << 30 } });
    assert.deepEqual(ociResources({ cpuMillis: 2 }), { cpu: { quota: 1000, period: 100_000 } });
    // `limits.cpu: 1G` (with a small request, so the pool is admitted): runsc failed every start
    // with the kernel's EINVAL for cpu.cfs_quota_us.
    assert.deepEqual(ociResources({ cpuMillis: 10 ** 12 }), {
      cpu: { quota: 2 ** 44 - 1, period: 100_000 },
    });
    assert.deepEqual(ociResources({ cpuMillis: 2500 }), {
      cpu: { quota: 250_000, period: 100_000 },
    });
  });
});
