import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { AteError, Code } from "../errors/index.ts";

/** Where `ate up` serves its API unless told otherwise. */
export const defaultServer = "http://127.0.0.1:7443";

/** The CLI's config file: $ATE_CONFIG, else $XDG_CONFIG_HOME/ate/config.yaml (~/.config/ate/config.yaml). */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ATE_CONFIG) return env.ATE_CONFIG;
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "ate", "config.yaml");
}

export interface CliConfig {
  /** The ate API to talk to, e.g. http://127.0.0.1:7443. */
  server?: string;
}

/** Reads the config file if there is one; a malformed file is an error naming it. */
export function readConfig(path = configPath()): CliConfig {
  if (!existsSync(path)) return {};
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new AteError(
      Code.InvalidArgument,
      `config file ${path} is not valid YAML: ${(err as Error).message.split("\n")[0]}`,
    );
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc))
    throw new AteError(
      Code.InvalidArgument,
      `config file ${path}: expected a mapping like "server: http://127.0.0.1:7443"`,
    );
  const config: CliConfig = {};
  for (const [key, value] of Object.entries(doc)) {
    if (key !== "server")
      throw new AteError(
        Code.InvalidArgument,
        `config file ${path}: unknown field "${key}" (known: server)`,
      );
    config.server = checkServerUrl(value, `config file ${path}: server`);
  }
  return config;
}

/** A server URL as given, checked: http(s) with a host. */
export function checkServerUrl(value: unknown, what: string): string {
  if (typeof value === "string") {
    try {
      const url = new URL(value);
      if ((url.protocol === "http:" || url.protocol === "https:") && url.host)
        return value.replace(/\/+$/, "");
    } catch {}
  }
  throw new AteError(
    Code.InvalidArgument,
    `${what}: ${JSON.stringify(value)} is not a server URL: use http://HOST:PORT, e.g. ${defaultServer}`,
  );
}

/** The API endpoint: --server, else $ATE_SERVER, else the config file, else the local `ate up`. */
export function resolveServer(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (flag) return checkServerUrl(flag, "--server");
  if (env.ATE_SERVER) return checkServerUrl(env.ATE_SERVER, "ATE_SERVER");
  return readConfig(configPath(env)).server ?? defaultServer;
}
