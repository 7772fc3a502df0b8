// The driver's watch of its sandboxes lets go on close: the polls of adopted sandboxes and the
// OOM poll end, and nothing is reported afterwards although the sandbox (here a plain process
// standing in for one) runs on for the next agent.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { SandboxExit, WorkerRef } from "../driver.ts";
import { WorkerCgroups } from "./cgroups.ts";
import { SandboxExits } from "./cgroups-exits.ts";
import { runsIn } from "./runsc.ts";

const dir = mkdtempSync(join(tmpdir(), "ate-exits-"));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** A process whose command line holds `id`, as an adopted sandbox's runsc does. */
async function sandboxLike(id: string): Promise<ChildProcess> {
  const c = spawn(process.execPath, ["-e", "setTimeout(() => {}, 300_000)", id], {
    stdio: "ignore",
  });
  children.push(c);
  await until("sleep started", 5000, () => runsIn(c.pid as number, id));
  return c;
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  for (const deadline = Date.now() + ms; !ok(); ) {
    assert.ok(Date.now() < deadline, `${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("sandbox exits", () => {
  // No cgroup mount there: limits are not enforced, the watch works the same.
  const cgroups = new WorkerCgroups("atecx", join(dir, "no-cgroups"));
  const worker = (name: string, index: number): WorkerRef => ({
    name,
    index,
    settings: { limits: { memoryBytes: 128 << 20 } },
  });
  const limited = (w: WorkerRef) => ({
    path: cgroups.newLeaf(w.index),
    limits: { memoryBytes: 128 << 20 },
    baseline: {},
  });

  it("reports an adopted sandbox that stops on its own", async () => {
    const reported: string[] = [];
    const exits = new SandboxExits(cgroups, dir, (w) => reported.push(w.name));
    const sandbox = await sandboxLike("sb-a");
    await exits.adopt(worker("wa", 0), sandbox.pid as number, "sb-a", join(dir, "none.json"));
    sandbox.kill("SIGKILL");
    await until("the exit reported", 5000, () => reported.length > 0);
    assert.deepEqual(reported, ["wa"]);
    exits.close();
  });

  it("on close, ends its polls and reports nothing more; the sandboxes run on", async () => {
    const reported: SandboxExit[] = [];
    const exits = new SandboxExits(cgroups, dir, (_w, e) => reported.push(e));
    const before = timers();
    const adopted = await sandboxLike("sb-b");
    await exits.adopt(worker("wb", 1), adopted.pid as number, "sb-b", join(dir, "none.json"));
    const started = await sandboxLike("sb-c");
    const exited = once(started, "exit").then(() => 137);
    exits.watch(worker("wc", 2), Promise.resolve(), exited, limited(worker("wc", 2)));
    assert.ok(timers() >= before + 2, "the adopted sandbox's poll and the OOM poll");

    exits.close();
    assert.equal(timers(), before, "no poll left");
    assert.equal(adopted.exitCode, null, "the sandboxes run on");
    started.kill("SIGKILL");
    adopted.kill("SIGKILL");
    await Promise.all([exited, once(adopted, "exit")]);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(reported, [], "nothing reported once closed");
  });
});
