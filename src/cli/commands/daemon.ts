import type { Command } from "commander";
import { AteError, Code } from "../../errors/index.ts";
import { defaultLogger, type Logger, tolerateLostOutput } from "../../log/index.ts";
import {
  checkEgressAllow,
  checkEgressDeny,
  type EgressOptions,
  parseResolver,
} from "../../sandbox/gvisor/index.ts";
import { readTokenFile } from "../../up/index.ts";

/**
 * What every long-running command (`ate controlplane`, `ate node`, `ate router`) sets up: a
 * logger, output that may go away (a closed terminal, `| tee` killed first) without ending
 * the process, and a hang-up that does not stop it. `release` undoes the SIGHUP handler.
 */
export function daemon(command: string): { logger: Logger; release(): void } {
  const logger = defaultLogger();
  tolerateLostOutput((stream, err) =>
    logger.warn(`${stream} is gone; ${command} keeps running without it`, {
      error: (err as NodeJS.ErrnoException).code ?? err.message,
    }),
  );
  const hangup = () =>
    logger.warn(`terminal hung up; ${command} keeps serving: stop it with SIGTERM`, {
      pid: process.pid,
    });
  process.on("SIGHUP", hangup);
  return { logger, release: () => process.off("SIGHUP", hangup) };
}

/**
 * An AbortSignal that aborts at the first SIGINT or SIGTERM; `second` at the next one (to
 * cut a slow shutdown short). `release` removes the handlers.
 */
export function stopSignals(): { first: AbortSignal; second: AbortSignal; release(): void } {
  const first = new AbortController();
  const second = new AbortController();
  const on = () => {
    if (first.signal.aborted) second.abort();
    else first.abort();
  };
  process.on("SIGINT", on);
  process.on("SIGTERM", on);
  return {
    first: first.signal,
    second: second.signal,
    release: () => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
    },
  };
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** A required flag the user left out: a usage error (exit 2) that says what to give. */
export function missing(cmd: Command, flag: string, what: string): never {
  cmd.error(`error: ${flag} is required: ${what}`, { exitCode: 2 });
}

/** A whole number within bounds from a flag, or an error naming the flag. */
export function intFlag(value: string | undefined, flag: string, min: number, max: number) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > max)
    throw new AteError(
      Code.InvalidArgument,
      `${flag} ${JSON.stringify(value)}: give an integer from ${min} to ${max}`,
    );
  return n;
}

/** An http(s) base URL from a flag (`--server`), or an error naming the flag. */
export function serverFlag(value: string, flag = "--server"): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {}
  if (
    !url ||
    (url.protocol !== "http:" && url.protocol !== "https:") ||
    !url.hostname ||
    url.username ||
    url.password ||
    url.search ||
    url.hash
  )
    throw new AteError(
      Code.InvalidArgument,
      `${flag} ${JSON.stringify(value.slice(0, 200))}: give the control plane's API URL, e.g. http://10.0.0.2:7443`,
    );
  return value.replace(/\/+$/, "");
}

/** `--dns`, `--egress-allow`, `--egress-deny` (ate up, ate node), each error naming its flag. */
export function egressFlags(f: {
  dns?: string[];
  egressAllow?: string[];
  egressDeny?: string[];
}): EgressOptions {
  for (const d of f.dns ?? []) parseResolver(d, "--dns");
  return {
    ...(f.dns?.length ? { dns: f.dns } : {}),
    ...(f.egressAllow?.length ? { allow: checkEgressAllow(f.egressAllow, "--egress-allow") } : {}),
    ...(f.egressDeny?.length ? { deny: checkEgressDeny(f.egressDeny, "--egress-deny") } : {}),
  };
}

/**
 * The control plane and the credential of `ate node` / `ate router`: `--server` (also the
 * CLI's global flag, which takes it wherever it stands) and `--token-file`.
 */
export function machineFlags(
  cmd: Command,
  program: Command,
  f: { server?: string; tokenFile?: string },
  role: "node" | "router",
): { api: string; token: string; tokenFile: string } {
  const server = f.server ?? (program.opts() as { server?: string }).server;
  if (!server)
    missing(cmd, "--server", "the control plane's API, e.g. --server http://10.0.0.2:7443");
  if (!f.tokenFile)
    missing(
      cmd,
      "--token-file",
      `a file holding this ${role}'s token (ate create token NAME --${role})`,
    );
  return { api: serverFlag(server), token: readTokenFile(f.tokenFile), tokenFile: f.tokenFile };
}
