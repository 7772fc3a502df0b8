// A real valkey-server (Debian bookworm-backports) on loopback for tests, with no persistence.
import { type RunningRedis, startRedisCompatible } from "./redis.ts";

export type RunningValkey = RunningRedis;

export function startValkey(): Promise<RunningValkey> {
  return startRedisCompatible("valkey-server");
}
