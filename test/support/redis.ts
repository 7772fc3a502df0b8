// A real redis-server (Debian's) on loopback for tests, with no persistence.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { freePort } from "./ports.ts";

export interface RunningRedis {
  url: string;
  /** The server's process id (tests that kill it use this). */
  pid: number;
  stop(): Promise<void>;
}

export function startRedis(): Promise<RunningRedis> {
  return startRedisCompatible("redis-server");
}

/**
 * Starts `binary` (redis-server, or valkey-server, which takes the same flags) on a free
 * loopback port in a temporary directory, and waits until it answers PING.
 */
export async function startRedisCompatible(binary: string): Promise<RunningRedis> {
  const dir = mkdtempSync(join(tmpdir(), `ate-${binary}-`));
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary,
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
    ],
    { stdio: "ignore" },
  );
  let spawnError: Error | undefined;
  child.once("error", (err) => {
    spawnError = err; // e.g. ENOENT: not installed
  });
  const exited = new Promise((r) => child.once("exit", r));
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on("error", () => {});
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null || spawnError)
        throw new Error(
          `${binary} exited at start (${spawnError?.message ?? `code ${child.exitCode}`}): is it installed (scripts/setup-system.sh)?`,
        );
      const ok = await probe.connect().then(
        () => probe.ping(),
        () => undefined,
      );
      if (ok === "PONG") break;
      if (i > 100) throw new Error(`${binary} did not answer on ${url}`);
      probe.disconnect();
      await sleep(50);
    }
  } catch (err) {
    await stop();
    throw err;
  } finally {
    probe.disconnect();
  }
  return { url, pid: child.pid as number, stop };
}
