import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { AteError } from "../../errors/index.ts";
import { launcherPid, runShort, startLauncher, stopLauncher } from "./index.ts";

/** Whether pid is a live process (a zombie counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<void> {
  for (const deadline = Date.now() + 5000; alive(pid); await sleep(20))
    assert.ok(Date.now() < deadline, `process ${pid} still runs`);
}

/** The pid a command wrote to file, once it did. */
async function pidIn(file: string): Promise<number> {
  for (const deadline = Date.now() + 5000; ; await sleep(10)) {
    try {
      const pid = Number(readFileSync(file, "utf8").trim());
      if (pid > 0) return pid;
    } catch {}
    assert.ok(Date.now() < deadline, `nothing in ${file}`);
  }
}

describe("launcher", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-launcher-"));
  const started: number[] = [];
  after(async () => {
    await stopLauncher();
    for (const pid of started) if (alive(pid)) process.kill(pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  /** A command that writes its pid to file and then sleeps. */
  const sleeper = (file: string) => ({
    file: "/bin/sh",
    args: ["-c", `echo $$ > ${file}; exec sleep 30`],
  });

  it("runs commands from a process of its own, with their stdin, stdout and stderr", async () => {
    // While it starts, commands run from this process.
    const early = await runShort({ file: "/bin/sh", args: ["-c", "echo $PPID"] });
    assert.equal(Number(early.stdout.trim()), process.pid);
    assert.equal(await startLauncher(), true);
    const r = await runShort({
      file: "/bin/sh",
      args: ["-c", "cat; echo err >&2; echo $PPID"],
      input: "in\n",
    });
    assert.equal(r.code, 0);
    assert.equal(r.signal, null);
    assert.equal(r.stderr, "err\n");
    const [echoed, parent] = r.stdout.trim().split("\n");
    assert.equal(echoed, "in");
    assert.equal(Number(parent), launcherPid());
    assert.notEqual(Number(parent), process.pid);
    // Calls run side by side.
    const many = await Promise.all(
      [1, 2, 3].map((i) => runShort({ file: "/bin/echo", args: [String(i)] })),
    );
    assert.deepEqual(
      many.map((m) => m.stdout),
      ["1\n", "2\n", "3\n"],
    );
  });

  it("reports exit codes, signals, commands that cannot start, timeouts and big output", async () => {
    assert.equal((await runShort({ file: "/bin/sh", args: ["-c", "exit 3"] })).code, 3);
    const killed = await runShort({ file: "/bin/sh", args: ["-c", "kill -KILL $$"] });
    assert.equal(killed.code, null);
    assert.equal(killed.signal, "SIGKILL");
    const missing = await runShort({ file: "/nonexistent/x", args: [] });
    assert.match(missing.error ?? "", /spawn \/nonexistent\/x ENOENT/);
    const slow = await runShort({ file: "/bin/sleep", args: ["10"], timeoutMs: 50 });
    assert.equal(slow.timedOut, true);
    assert.equal(slow.signal, "SIGTERM");
    const big = await runShort({
      file: "/bin/sh",
      args: ["-c", "yes | head -c 5000"],
      maxOutput: 1000,
    });
    assert.match(big.error ?? "", /stdout maxBuffer length exceeded/);
  });

  it("kills a command whose call is aborted, and rejects at once", async () => {
    const file = join(dir, "aborted");
    assert.equal(await startLauncher(), true);
    const abort = new AbortController();
    const call = runShort({ ...sleeper(file), signal: abort.signal });
    const pid = await pidIn(file);
    started.push(pid);
    abort.abort();
    await assert.rejects(call, { name: "AbortError" });
    await gone(pid);
    await assert.rejects(runShort({ file: "/bin/true", args: [], signal: abort.signal }), {
      name: "AbortError",
    });
  });

  it("fails the calls of a launcher that died, and starts another for the next", async () => {
    const file = join(dir, "orphan");
    assert.equal(await startLauncher(), true);
    const call = runShort(sleeper(file));
    const pid = await pidIn(file);
    started.push(pid);
    const first = launcherPid();
    assert.ok(first);
    process.kill(first, "SIGKILL");
    await assert.rejects(
      call,
      (err: unknown) => err instanceof AteError && /launcher .* ended/.test(err.message),
    );
    // A launcher killed outright leaves its commands running, as a killed agent did.
    process.kill(pid, "SIGKILL");
    await gone(pid);
    assert.equal(await startLauncher(), true);
    const r = await runShort({ file: "/bin/sh", args: ["-c", "echo $PPID"] });
    assert.equal(Number(r.stdout.trim()), launcherPid());
    assert.notEqual(launcherPid(), first);
  });

  it("leaves no process behind once stopped (its stdin closed)", async () => {
    const file = join(dir, "stopped");
    assert.equal(await startLauncher(), true);
    const call = runShort(sleeper(file));
    const pid = await pidIn(file);
    started.push(pid);
    const launcher = launcherPid();
    assert.ok(launcher);
    await stopLauncher();
    await assert.rejects(call, /launcher/);
    await gone(pid);
    await gone(launcher);
  });

  it("runs commands from this process when the launcher cannot start", async () => {
    const node = process.execPath;
    process.execPath = join(dir, "no-node");
    try {
      assert.equal(await startLauncher(), false);
      const r = await runShort({ file: "/bin/sh", args: ["-c", "echo $PPID"] });
      assert.equal(Number(r.stdout.trim()), process.pid);
      assert.equal(launcherPid(), undefined);
    } finally {
      process.execPath = node;
    }
  });
});
