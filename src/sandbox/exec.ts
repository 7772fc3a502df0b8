import { AteError, Code } from "../errors/index.ts";
import { runShort, type ShortResult } from "./launcher/index.ts";

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a command; a non-zero exit becomes an AteError carrying its stderr. It runs from the
 * launcher (launcher/): a spawn from the agent would block its event loop for a fork of it.
 */
export async function exec(
  file: string,
  args: readonly string[],
  options: { signal?: AbortSignal; timeoutMs?: number; code?: Code } = {},
): Promise<ExecResult> {
  const command = [file, ...args].join(" ");
  const fail = (message: string, stderr: string, cause: unknown) => {
    const detail = (stderr || message).trim().split("\n").slice(-3).join(" | ");
    return new AteError(options.code ?? Code.Internal, `${command} failed: ${detail}`, [], {
      cause,
    });
  };
  let r: ShortResult;
  try {
    r = await runShort({
      file,
      args,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
  } catch (err) {
    throw fail((err as Error).message, "", err);
  }
  if (r.code === 0 && !r.error && !r.timedOut) return { stdout: r.stdout, stderr: r.stderr };
  // The messages execFile gave (callers and logs match on them).
  const message = r.error ?? `Command failed: ${command}\n${r.stderr}`;
  throw fail(message, r.stderr, Object.assign(new Error(message), r));
}

/** Like exec, but a failure is ignored (for idempotent clean-up). */
export async function execQuiet(
  file: string,
  args: readonly string[],
): Promise<ExecResult | undefined> {
  try {
    return await exec(file, args);
  } catch {
    return undefined;
  }
}
