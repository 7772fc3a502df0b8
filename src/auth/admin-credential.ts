import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { Code, isAteError } from "../errors/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";
import { readPrivateFile, writePrivateFile } from "../private-files/index.ts";
import { localAdminTokenName } from "./admin-service.ts";
import { writeClientConfig } from "./client-config.ts";
import type { TokenStore } from "./token-store.ts";

export interface AdminCredential {
  /** The admin token's text. */
  token: string;
  /** `<state-dir>/admin.token`, mode 0600. */
  path: string;
  /** kept: the file's token was still valid; created: a new one replaced it (or there was none). */
  outcome: "kept" | "created";
}

/** Where `ate up` keeps the local user's admin credential. */
export function adminTokenPath(stateDir: string): string {
  return join(stateDir, "admin.token");
}

/**
 * The local user's admin credential, as k3s keeps its kubeconfig: `<state-dir>/admin.token`
 * (0600) holds an admin token, reused while its record is valid and replaced otherwise (first
 * start, revoked, records wiped). Run before the API serves, so whoever sees it answer finds
 * the file.
 */
export async function ensureAdminCredential(o: {
  stateDir: string;
  tokens: TokenStore;
  /**
   * The admin token's name. Default `admin`. Control planes sharing one records store each
   * keep their own (see adminTokenNameFor), so a new one never revokes another's.
   */
  name?: string;
  logger?: Logger;
}): Promise<AdminCredential> {
  const path = adminTokenPath(o.stateDir);
  const log = o.logger ?? silentLogger;
  // A symlink or another user's file there is an error, not something to read or replace.
  const current = readPrivateFile(path)?.trim() ?? "";
  if (current) {
    try {
      const who = await o.tokens.authenticate(`Bearer ${current}`);
      if (who.role === "admin") return { token: current, path, outcome: "kept" };
    } catch (err) {
      if (!isAteError(err, Code.Unauthenticated)) throw err;
    }
    log.info("admin token no longer valid: making a new one", { path });
  }
  const { text } = await o.tokens.create(
    { name: o.name ?? localAdminTokenName, role: "admin" },
    { replace: true },
  );
  writePrivateFile(path, `${text}\n`);
  return { token: text, path, outcome: "created" };
}

/**
 * The admin token name of a control plane whose records are shared with others (Valkey):
 * `admin-<8 hex>`, from its host and state dir, the same at every restart.
 */
export function adminTokenNameFor(host: string, stateDir: string): string {
  return `${localAdminTokenName}-${createHash("sha256")
    .update(`${host}\0${resolve(stateDir)}`)
    .digest("hex")
    .slice(0, 8)}`;
}

/**
 * Points the `ate` CLI of the user who ran `ate up` at this server with the admin token:
 * `server:` and `token:` in its config file (`$ATE_CONFIG`, else ~/.config/ate/config.yaml),
 * other keys kept. Returns the problem instead of throwing: a config the CLI cannot use must
 * not stop the substrate (the token file is still there).
 */
export function writeAdminClientConfig(
  path: string,
  server: string,
  credential: AdminCredential,
): { written: true } | { written: false; problem: string } {
  try {
    writeClientConfig(path, { server, token: credential.token });
    return { written: true };
  } catch (err) {
    return { written: false, problem: (err as Error).message };
  }
}
