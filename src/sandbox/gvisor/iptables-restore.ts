import { AteError, Code } from "../../errors/index.ts";
import { runShort } from "../launcher/index.ts";

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
 * iptablesRestore in netns, then `then` (a shell command) in the same namespace, from one
 * process chain: every process costs a fork and exec (≈10–25 ms on a busy 2-core machine), and
 * a checkpoint's drain needs both at once. `restored` is false when the restore failed
 * (nothing applied: its input applies whole or not at all), and `then` was then not run; else
 * `stdout` and `code` are those of `then`.
 */
export async function iptablesRestoreThen(
  text: string,
  netns: string,
  then: string,
): Promise<{ restored: boolean; code: number; stdout: string }> {
  const script = `iptables-restore -w --noflush || exit ${restoreFailed}\n${then}`;
  const r = await run("ip", ["netns", "exec", netns, "/bin/sh", "-c", script], text);
  return { restored: r.code !== restoreFailed, code: r.code, stdout: r.stdout };
}

/** The shell's exit code when the restore failed (neither iptables-restore's nor conntrack's). */
const restoreFailed = 97;

/**
 * Runs file with input on its stdin, from the launcher (../launcher: a spawn from the agent
 * blocks its event loop for a fork of the agent): its exit code, stdout and (the end of) stderr.
 */
export async function run(
  file: string,
  args: readonly string[],
  input: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  // A command that exits before reading its input (no such namespace): its exit code says so.
  const r = await runShort({ file, args, input });
  if (r.error && r.code === null && r.signal === null) throw new Error(r.error); // could not start
  return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr.slice(0, 4096) };
}
