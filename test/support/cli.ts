// The CLI in process, its output captured: what tests run instead of spawning bin/ate.
import type { CliIO } from "../../src/cli/io.ts";
import { runCli } from "../../src/cli/main.ts";

/** Runs `ate <args>` exactly as given; out is stdout as printed, err the stderr lines. */
export async function runCliCaptured(
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    out: (t) => out.push(`${t}\n`),
    write: (t) => out.push(t),
    err: (t) => err.push(t),
    stdin: () => "",
    now: () => new Date(),
  };
  const code = await runCli(args, io);
  return { code, out: out.join(""), err: err.join("\n") };
}
