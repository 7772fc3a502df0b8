import { spawn } from "node:child_process";
import { AteError, Code } from "../../errors/index.ts";

/**
 * Applies `iptables-restore --noflush` input, in a network namespace if one is named: each
 * table's part applies at once (a declared chain is created or emptied and refilled).
 */
export function iptablesRestore(text: string, netns?: string): Promise<void> {
  const restore = ["iptables-restore", "-w", "--noflush"];
  const [file, ...args] = netns ? ["ip", "netns", "exec", netns, ...restore] : restore;
  return new Promise((resolve, reject) => {
    const child = spawn(file as string, args, { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(
            new AteError(
              Code.Internal,
              `iptables-restore${netns ? ` in ${netns}` : ""} failed (exit ${code}): ${stderr.trim()}`,
            ),
          ),
    );
    child.stdin.end(text);
  });
}
