import { join } from "node:path";
import type { Clock } from "../clock/index.ts";
import { AteError, Code } from "../errors/index.ts";
import { RedisResourceStore } from "./redis-store.ts";
import { SqliteResourceStore } from "./sqlite-store.ts";
import type { ResourceStore } from "./store.ts";

export interface ResourceStoreConfig {
  /**
   * Where resources live: `redis://host:port[/db]` (or `rediss://`; Redis or Valkey, shared
   * by several control planes), `sqlite:///abs/path.db`, a plain file path, or
   * `sqlite::memory:`. Default: `<home>/ate.db`.
   */
  url?: string;
  /** ate's data directory; see `ateHome()`. */
  home?: string;
  clock?: Clock;
}

/** The one place a resource store backend is chosen. */
export function openResourceStore(config: ResourceStoreConfig = {}): ResourceStore {
  const url = config.url ?? join(config.home ?? ateHome(), "ate.db");
  const clock = config.clock ? { clock: config.clock } : {};
  if (url.startsWith("redis://") || url.startsWith("rediss://"))
    return new RedisResourceStore({ url, ...clock });
  if (url === "sqlite::memory:") return new SqliteResourceStore({ path: ":memory:", ...clock });
  if (url.startsWith("sqlite://"))
    return new SqliteResourceStore({ path: url.slice("sqlite://".length), ...clock });
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url))
    return new SqliteResourceStore({ path: url, ...clock });
  throw new AteError(
    Code.InvalidArgument,
    `resource store "${url}" is not supported: use redis://host:port, sqlite:///path/to/ate.db or a file path`,
  );
}

/**
 * Where ate keeps its state: `$ATE_HOME`; else, for root, `/var/lib/ate` (a machine's
 * substrate); else `$XDG_DATA_HOME/ate` or `~/.local/share/ate`.
 */
export function ateHome(
  env: NodeJS.ProcessEnv = process.env,
  uid: number | undefined = process.getuid?.(),
): string {
  if (env.ATE_HOME) return env.ATE_HOME;
  if (uid === 0) return "/var/lib/ate";
  const data = env.XDG_DATA_HOME || join(env.HOME || "/root", ".local", "share");
  return join(data, "ate");
}
