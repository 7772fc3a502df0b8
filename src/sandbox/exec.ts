import { execFile } from "node:child_process";
import { AteError, Code } from "../errors/index.ts";

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** Runs a command; a non-zero exit becomes an AteError carrying its stderr. */
export function exec(
  file: string,
  args: readonly string[],
  options: { signal?: AbortSignal; timeoutMs?: number; code?: Code } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        encoding: "utf8",
        maxBuffer: 16 * 1024 * 1024,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const detail = (stderr || err.message).trim().split("\n").slice(-3).join(" | ");
        reject(
          new AteError(
            options.code ?? Code.Internal,
            `${[file, ...args].join(" ")} failed: ${detail}`,
            [],
            { cause: err },
          ),
        );
      },
    );
  });
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
