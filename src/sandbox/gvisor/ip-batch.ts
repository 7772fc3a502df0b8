import { spawn } from "node:child_process";
import { AteError, Code } from "../../errors/index.ts";

/**
 * Runs `ip` commands (one a line, without the leading `ip`) in one process, in a network
 * namespace if one is named: each `ip` run costs a fork and exec (≈10–40 ms on a busy
 * machine), and setting up a sandbox's namespace takes a dozen of them. Stops at the first
 * failing line, and fails naming it.
 */
export function ipBatch(lines: readonly string[], netns?: string): Promise<void> {
  const args = [...(netns ? ["-n", netns] : []), "-batch", "-"];
  return new Promise((resolve, reject) => {
    const child = spawn("ip", args, { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.on("error", reject);
    // ip may exit before reading its input (no such namespace): its exit code says so.
    child.stdin.on("error", () => {});
    child.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(
            new AteError(
              Code.Internal,
              `ip ${args.join(" ")} failed (exit ${code}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`,
            ),
          ),
    );
    child.stdin.end(`${lines.join("\n")}\n`);
  });
}
