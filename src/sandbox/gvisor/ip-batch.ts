import { AteError, Code } from "../../errors/index.ts";
import { runShort } from "../launcher/index.ts";

/**
 * Runs `ip` commands (one a line, without the leading `ip`) in one process, in a network
 * namespace if one is named: each `ip` run costs a fork and exec (≈10–40 ms on a busy
 * machine), and setting up a sandbox's namespace takes a dozen of them. Stops at the first
 * failing line, and fails naming it. It runs from the launcher (../launcher), as each spawn from
 * the agent blocks its event loop for a fork of the agent.
 */
export async function ipBatch(lines: readonly string[], netns?: string): Promise<void> {
  const args = [...(netns ? ["-n", netns] : []), "-batch", "-"];
  // ip may exit before reading its input (no such namespace): its exit code says so.
  const r = await runShort({ file: "ip", args, input: `${lines.join("\n")}\n` });
  if (r.error && r.code === null && r.signal === null) throw new Error(r.error); // could not start
  if (r.code !== 0)
    throw new AteError(
      Code.Internal,
      `ip ${args.join(" ")} failed (exit ${r.code}): ${r.stderr.slice(0, 4096).trim().split("\n").slice(-3).join(" | ")}`,
    );
}
