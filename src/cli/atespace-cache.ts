import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * The atespace a token belongs to, remembered between commands: asking the server (WhoAmI)
 * costs a round trip before every `ate get actors`. A token's role and atespace never change
 * (a token is made for one and only deleted), so the answer stays true for that token on that
 * server; a deleted token fails the command's own call anyway. Kept in the user's own cache
 * directory (0700), under a hash of server and token: the token itself is never written here.
 */
export function cachedAtespace(server: string, token: string): string | undefined {
  try {
    const text = readFileSync(entry(server, token), "utf8");
    return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(text) ? text : undefined;
  } catch {
    return undefined;
  }
}

/** Remembers a token's atespace (best effort: a cache that cannot be written is skipped). */
export function rememberAtespace(server: string, token: string, atespace: string): void {
  try {
    const file = entry(server, token);
    mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}`;
    writeFileSync(tmp, atespace, { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // read-only home, full disk: the next command asks the server again
  }
}

function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "ate", "atespaces");
}

function entry(server: string, token: string): string {
  const key = createHash("sha256").update(`${server}\n${token}`).digest("hex").slice(0, 40);
  return join(cacheDir(), key);
}
