// Valkey and S3 (s3rver) inside a cluster host (see cluster-hosts.ts), bound to the host's
// address, each waited for until it answers from the test.
import { existsSync, mkdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import type { ClusterHost, HostProcess } from "./cluster-hosts.ts";

export interface HostService {
  url: string;
  process: HostProcess;
  /** SIGTERM, then SIGKILL after 5 s; the cluster's stop() would do it too. */
  stop(): Promise<void>;
}

export interface HostS3 extends HostService {
  buckets: string[];
  /** What a process needs to use it: endpoint, s3rver's fixed credentials, a region. */
  env: Record<string, string>;
}

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** valkey-server (Debian bookworm-backports) if installed, else redis-server (same flags). */
export function valkeyBinary(): string {
  const dirs = (process.env.PATH ?? "").split(delimiter);
  for (const bin of ["valkey-server", "redis-server"])
    if (dirs.some((d) => d && existsSync(join(d, bin)))) return bin;
  throw new Error(
    "neither valkey-server nor redis-server is installed: run scripts/setup-system.sh",
  );
}

async function stopService(p: HostProcess): Promise<void> {
  p.kill("SIGTERM");
  const timer = setTimeout(() => p.kill("SIGKILL"), 5000);
  await p.exited;
  clearTimeout(timer);
}

/** Valkey on host:port (default 6379), no persistence; resolves once it answers PING. */
export async function startValkeyIn(
  host: ClusterHost,
  options: { port?: number; timeoutMs?: number } = {},
): Promise<HostService> {
  const port = options.port ?? 6379;
  const dir = join(host.dir, `valkey-${port}`);
  mkdirSync(dir, { recursive: true });
  const p = host.spawn(valkeyBinary(), [
    ...["--port", String(port), "--bind", host.address],
    ...["--save", "", "--appendonly", "no", "--dir", dir],
    // Protected mode refuses every client but loopback when there is no password; the hosts
    // reach only each other and the test, so there is nothing to protect against.
    ...["--protected-mode", "no"],
  ]);
  const url = `redis://${host.address}:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    if (!p.running()) throw new Error(`valkey in ${host.name} exited at start: ${p.output()}`);
    const probe = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on("error", () => {});
    const pong = await probe
      .connect()
      .then(() => probe.ping())
      .catch((err: Error) => err.message);
    probe.disconnect();
    if (pong === "PONG") break;
    if (Date.now() > deadline) {
      await stopService(p);
      throw new Error(`valkey in ${host.name} did not answer at ${url} (${pong}): ${p.output()}`);
    }
    await sleep(50);
  }
  return { url, process: p, stop: () => stopService(p) };
}

/** s3rver on host:port (default 9000) with these buckets; resolves once it answers HTTP. */
export async function startS3In(
  host: ClusterHost,
  options: { buckets?: string[]; port?: number; timeoutMs?: number } = {},
): Promise<HostS3> {
  const port = options.port ?? 9000;
  const buckets = options.buckets ?? [];
  const directory = join(host.dir, `s3rver-${port}`);
  mkdirSync(directory, { recursive: true });
  const script = join(repoRoot, "test/support/cluster-s3rver.ts");
  const config = JSON.stringify({ address: host.address, port, directory, buckets });
  const p = host.spawn(process.execPath, ["--import", "tsx", script, config], { cwd: repoRoot });
  const url = `http://${host.address}:${port}`;
  const timeoutMs = options.timeoutMs ?? 30_000;
  try {
    await p.waitForOutput("s3rver ready", timeoutMs);
    // Any HTTP answer will do (s3rver refuses an unsigned listing with 403).
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
  } catch (err) {
    await stopService(p);
    throw new Error(`s3rver in ${host.name} did not answer at ${url}: ${(err as Error).message}`);
  }
  const env = {
    AWS_ENDPOINT_URL: url,
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: "us-east-1",
  };
  return { url, buckets, env, process: p, stop: () => stopService(p) };
}
