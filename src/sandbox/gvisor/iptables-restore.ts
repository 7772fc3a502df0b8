import { spawn } from "node:child_process";
import { AteError, Code } from "../../errors/index.ts";

/**
 * Applies `iptables-restore --noflush` input, in a network namespace if one is named: each
 * table's part applies at once (a declared chain is created or emptied and refilled).
 */
export async function iptablesRestore(text: string, netns?: string): Promise<void> {
  const restore = ["iptables-restore", "-w", "--noflush"];
  const [file, ...args] = netns ? ["ip", "netns", "exec", netns, ...restore] : restore;
  const { code, stderr } = await run(file as string, args, text);
  if (code !== 0)
    throw new AteError(
      Code.Internal,
      `iptables-restore${netns ? ` in ${netns}` : ""} failed (exit ${code}): ${stderr.trim()}`,
    );
}

/**
 * iptablesRestore in netns, then `command` in the same namespace, from one process chain: every
 * process costs a fork and exec (≈10–25 ms on a busy 2-core machine), and a checkpoint's drain
 * needs both at once. `restored` is false when the restore failed (nothing applied: its input
 * applies whole or not at all), and the command was then not run; else `stdout` and `code` are
 * the command's.
 */
export async function iptablesRestoreThen(
  text: string,
  netns: string,
  command: readonly string[],
): Promise<{ restored: boolean; code: number; stdout: string }> {
  const script = `iptables-restore -w --noflush || exit ${restoreFailed}; exec "$@"`;
  const r = await run(
    "ip",
    ["netns", "exec", netns, "/bin/sh", "-c", script, "sh", ...command],
    text,
  );
  return { restored: r.code !== restoreFailed, code: r.code, stdout: r.stdout };
}

/** The shell's exit code when the restore failed (neither iptables-restore's nor conntrack's). */
const restoreFailed = 97;

/** Runs file with input on its stdin: its exit code, stdout and (the end of) stderr. */
export function run(
  file: string,
  args: readonly string[],
  input: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.on("error", reject);
    // A command that exits before reading its input (no such namespace): its exit code says so.
    child.stdin.on("error", () => {});
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}
