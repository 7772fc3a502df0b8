// `ate up` as a real process whose stdout (or stdout and stderr) goes away, as with
// `npm start | tee x` and a Ctrl-C that kills tee first, or a closed terminal: it keeps
// serving, and SIGTERM still shuts it down cleanly (its workers removed).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { workerPool } from "../../src/api/testing.ts";
import { WorkerPoolType } from "../../src/api/v1alpha1/index.ts";
import { openResourceStore } from "../../src/resources/index.ts";
import type { NetworkOptions } from "../../src/sandbox/gvisor/index.ts";
import { removeLeftoverWorkers } from "../support/leftover-workers.ts";
import { workerNetworkNames } from "../support/machine-workers.ts";
import { freePort } from "../support/ports.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

describe("ate up losing its stdout and stderr", { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-lost-output-"));
  const children: ChildProcess[] = [];

  after(async () => {
    for (const c of children)
      if (c.exitCode === null && c.signalCode === null) {
        c.kill("SIGKILL");
        await once(c, "exit");
      }
    for (const name of ["a", "b"]) {
      try {
        const state = join(dir, name);
        const network = JSON.parse(
          readFileSync(join(state, "network.json"), "utf8"),
        ) as NetworkOptions;
        await removeLeftoverWorkers(join(state, "node"), network);
      } catch {}
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts `ate up` with a one-worker pool; stderr to the log file, or a pipe when none. */
  async function up(name: string, logFile?: string) {
    const state = join(dir, name);
    const resources = openResourceStore({ home: state });
    await resources.create(WorkerPoolType, workerPool("pool", { replicas: 1 }));
    await resources.close();
    const api = `127.0.0.1:${await freePort()}`;
    const log = logFile ? openSync(logFile, "a") : undefined;
    const child = spawn(
      join(root, "bin", "ate"),
      [
        "up",
        "--state-dir",
        state,
        "--api-addr",
        api,
        "--router-addr",
        `127.0.0.1:${await freePort()}`,
      ],
      {
        stdio: ["ignore", "pipe", log ?? "pipe"],
        env: { ...process.env, ATE_LOG: "info", ATE_CONFIG: join(dir, `${name}-cli.yaml`) },
      },
    );
    if (log !== undefined) closeSync(log);
    children.push(child);
    let err = "";
    child.stderr?.on("data", (d) => {
      err += d;
    });
    const exited = once(child, "exit") as Promise<[number | null, string | null]>;
    const output = () => (logFile ? readFileSync(logFile, "utf8") : err);
    const healthy = () =>
      fetch(`http://${api}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    /** Waits for a log line (the worker made, a signal heard). */
    const logged = async (what: string) => {
      for (let i = 0; i < 1200; i++) {
        if (output().includes(what)) return;
        if (child.exitCode !== null) throw new Error(`ate up exited: ${output()}`);
        await sleep(50);
      }
      throw new Error(`ate up did not log ${what}: ${output()}`);
    };
    // Workers are made before the API listens; "router listening" comes once both serve.
    await logged('"worker created"');
    await logged('"router listening"');
    assert.equal(await healthy(), true);
    const network = JSON.parse(readFileSync(join(state, "network.json"), "utf8")) as {
      prefix: string;
    };
    assert.equal(workerNetworkNames(network.prefix).length, 3, "the worker's namespaces and link");
    return { child, exited, output, healthy, logged, prefix: network.prefix };
  }

  it("keeps serving without stdout, and SIGTERM still stops it cleanly", async () => {
    const logFile = join(dir, "a.log");
    const ate = await up("a", logFile);
    ate.child.stdout?.destroy(); // tee is gone
    ate.child.kill("SIGHUP"); // and the terminal too: a log line, no exit
    await ate.logged("terminal hung up");
    assert.equal(await ate.healthy(), true, "still serving");
    ate.child.kill("SIGTERM");
    const [code, signal] = await ate.exited;
    const log = ate.output();
    assert.deepEqual([code, signal], [0, null], log);
    assert.match(log, /^(?=.*"stdout is gone; ate up keeps running without it")(?=.*"EPIPE").*$/m);
    assert.match(log, /"msg":"stopping/);
    assert.match(log, /"msg":"stopped"/);
    assert.match(log, /"worker removed"/);
    assert.deepEqual(workerNetworkNames(ate.prefix), [], "its worker was removed");
  });

  it("keeps serving without stdout and stderr, and SIGTERM still stops it cleanly", async () => {
    const ate = await up("b");
    ate.child.stdout?.destroy();
    ate.child.stderr?.destroy();
    ate.child.kill("SIGHUP"); // makes it log to the lost stderr
    assert.equal(await ate.healthy(), true, "still serving");
    ate.child.kill("SIGTERM");
    const [code, signal] = await ate.exited;
    assert.deepEqual([code, signal], [0, null]);
    assert.deepEqual(workerNetworkNames(ate.prefix), [], "its worker was removed");
  });
});
