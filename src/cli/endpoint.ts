import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { AteError, Code } from "../errors/index.ts";
import { checkServerUrl, defaultServer } from "../sdk/options.ts";
import { parseConfigText } from "./config-text.ts";

// The SDK's: one check of a server URL, one default, for the CLI and library users alike.
export { checkServerUrl, defaultServer };

/** The CLI's config file: $ATE_CONFIG, else $XDG_CONFIG_HOME/ate/config.yaml (~/.config/ate/config.yaml). */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ATE_CONFIG) return env.ATE_CONFIG;
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "ate", "config.yaml");
}

export interface CliConfig {
  /** The ate API to talk to, e.g. http://127.0.0.1:7443. */
  server?: string;
  /** The bearer token for that server (`ate up` writes its admin token here). */
  token?: string;
}

const configKeys = ["server", "token"];

/**
 * The last file parsed, by path and text: one command asks for the server and the token
 * several times (≈6 reads of the same file). Keyed by the text itself, not by a stat: a file
 * rewritten within the clock's tick (a test, a script) is still seen as changed.
 */
let lastRead: { path: string; text: string; config: CliConfig } | undefined;

/** Reads the config file if there is one; a malformed file is an error naming it. */
export function readConfig(path = configPath()): CliConfig {
  if (!existsSync(path)) return {};
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw notYaml(path, err);
  }
  if (lastRead?.path === path && lastRead.text === text) return { ...lastRead.config };
  const config = parseConfig(path, text);
  lastRead = { path, text, config };
  return { ...config };
}

function notYaml(path: string, err: unknown): AteError {
  return new AteError(
    Code.InvalidArgument,
    `config file ${path} is not valid YAML: ${(err as Error).message.split("\n")[0]}`,
  );
}

/** The config file's settings, checked (errors are not kept: each read reports its own). */
function parseConfig(path: string, text: string): CliConfig {
  let doc: unknown;
  try {
    doc = parseConfigText(text);
  } catch (err) {
    throw notYaml(path, err);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc))
    throw new AteError(
      Code.InvalidArgument,
      `config file ${path}: expected a mapping like "server: http://127.0.0.1:7443"`,
    );
  const config: CliConfig = {};
  for (const [key, value] of Object.entries(doc)) {
    if (!configKeys.includes(key))
      throw new AteError(
        Code.InvalidArgument,
        `config file ${path}: unknown field "${key}" (known: ${configKeys.join(", ")})`,
      );
    if (key === "server") config.server = checkServerUrl(value, `config file ${path}: server`);
    else if (typeof value === "string" && value.trim()) config.token = value.trim();
    else
      throw new AteError(
        Code.InvalidArgument,
        `config file ${path}: token: expected the token's text (ate_<name>_<secret>)`,
      );
  }
  return config;
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

export interface Credential {
  token: string;
  /** Where it came from, for messages: `--token`, `ATE_TOKEN`, `config file PATH`. */
  source: string;
}

/**
 * The bearer token for `server`: --token, else $ATE_TOKEN, else the config file's, which is
 * sent only to the config file's server (the token `ate up` wrote is for its own API, and is
 * never handed to another server named by --server or ATE_SERVER).
 */
export function resolveCredential(
  server: string,
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Credential | undefined {
  if (flag) return { token: flag, source: "--token" };
  if (env.ATE_TOKEN) return { token: env.ATE_TOKEN, source: "ATE_TOKEN" };
  const path = configPath(env);
  const config = readConfig(path);
  if (config.token && sameServer(config.server ?? defaultServer, server))
    return { token: config.token, source: `config file ${path}` };
  return undefined;
}

function sameServer(a: string, b: string): boolean {
  const norm = (u: string) => {
    try {
      return new URL(u.replace(/\/+$/, "")).href;
    } catch {
      return u;
    }
  };
  return norm(a) === norm(b);
}
