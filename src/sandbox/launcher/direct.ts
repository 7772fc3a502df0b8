import { spawn } from "node:child_process";
import type { ShortCommand, ShortResult } from "./types.ts";

/**
 * Runs a short command from this process, as the launcher would (same result, same limits):
 * the fallback when the launcher cannot start. Each call blocks the event loop for a fork of
 * this process.
 */
export function runDirect(cmd: ShortCommand): Promise<ShortResult> {
  const max = cmd.maxOutput ?? defaultMaxOutput;
  return new Promise((resolve, reject) => {
    if (cmd.signal?.aborted) return reject(abortError());
    const child = spawn(cmd.file, cmd.args, {
      stdio: [cmd.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      ...(cmd.env ? { env: cmd.env } : {}),
      ...(cmd.cwd ? { cwd: cmd.cwd } : {}),
    });
    const out: Record<"stdout" | "stderr", Buffer[]> = { stdout: [], stderr: [] };
    const size = { stdout: 0, stderr: 0 };
    let error: string | undefined;
    let timedOut = false;
    for (const name of ["stdout", "stderr"] as const) {
      child[name]?.on("data", (d: Buffer) => {
        if (error) return;
        size[name] += d.length;
        if (size[name] > max) {
          error = `${name} maxBuffer length exceeded`;
          child.kill("SIGTERM");
          return;
        }
        out[name].push(d);
      });
    }
    const timer =
      cmd.timeoutMs && cmd.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            child.kill("SIGTERM");
          }, cmd.timeoutMs)
        : undefined;
    const onAbort = () => {
      child.kill("SIGTERM");
      settle(() => reject(abortError()));
    };
    cmd.signal?.addEventListener("abort", onAbort, { once: true });
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cmd.signal?.removeEventListener("abort", onAbort);
      f();
    };
    const finish = (code: number | null, signal: NodeJS.Signals | null) =>
      settle(() =>
        resolve({
          code,
          signal,
          stdout: Buffer.concat(out.stdout).toString("utf8"),
          stderr: Buffer.concat(out.stderr).toString("utf8"),
          ...(error ? { error } : {}),
          ...(timedOut ? { timedOut } : {}),
        }),
      );
    child.on("error", (err) => {
      error ??= err.message;
      if (child.pid === undefined) finish(null, null);
    });
    child.on("close", finish);
    if (cmd.input !== undefined && child.stdin) {
      child.stdin.on("error", () => {});
      child.stdin.end(cmd.input);
    }
  });
}

/** What an aborted call rejects with (as node's own child_process calls do). */
export function abortError(): Error {
  return new DOMException("The operation was aborted", "AbortError");
}

export const defaultMaxOutput = 16 * 1024 * 1024;
