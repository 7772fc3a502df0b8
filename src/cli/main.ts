import { Command, CommanderError } from "commander";
import { AteError, Code } from "../errors/index.ts";
import { ateVersion } from "../version.ts";
import { registerApply } from "./commands/apply.ts";
import { registerControlPlane } from "./commands/controlplane.ts";
import { registerCreate } from "./commands/create.ts";
import { registerDelete } from "./commands/delete.ts";
import { registerGet } from "./commands/get.ts";
import { registerImage } from "./commands/image.ts";
import { registerLifecycle } from "./commands/lifecycle.ts";
import { registerLogs } from "./commands/logs.ts";
import { registerNode } from "./commands/node.ts";
import { registerRouter } from "./commands/router.ts";
import { registerUp } from "./commands/up.ts";
import { registerVersion } from "./commands/version.ts";
import { CliContext, type GlobalOptions } from "./context.ts";
import { type CliIO, processIO } from "./io.ts";

/**
 * Exit codes scripts can rely on: 0 done; 1 the operation failed (the message says why);
 * 2 the command line is wrong (unknown command, flag or missing argument); 3 the server is
 * unreachable or unavailable right now (retrying may help).
 */
export const exitCodes = { ok: 0, failed: 1, usage: 2, unavailable: 3 } as const;

/** Runs the `ate` CLI; returns the exit code. Never calls process.exit, so tests can drive it. */
export async function runCli(
  argv: readonly string[],
  io: CliIO = processIO,
  name = "ate",
): Promise<number> {
  const program = new Command(name);
  const ctx = new CliContext(io, () => program.opts<GlobalOptions>());
  program
    .description("ate: sandboxed, stateful actors on few pre-started workers")
    .option(
      "--home <dir>",
      "ate's state directory, for a local store (default: $ATE_HOME, else /var/lib/ate as root, else ~/.local/share/ate)",
    )
    .option(
      "--store <url>",
      "resource store, e.g. sqlite:///var/lib/ate/ate.db (default: <home>/ate.db)",
    )
    .option(
      "--server <url>",
      "an ate server's API, e.g. http://127.0.0.1:7443 (default: $ATE_SERVER, else the local store)",
    )
    .option(
      "--token <token>",
      "bearer token for the server (default: $ATE_TOKEN, else the config file's, which ate up writes)",
    )
    .version(ateVersion, "--version", "print the CLI's version")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError("(run with --help for usage)");
  registerApply(program, ctx);
  registerGet(program, ctx);
  registerCreate(program, ctx);
  registerLifecycle(program, ctx);
  registerDelete(program, ctx);
  registerLogs(program, ctx);
  registerImage(program, ctx);
  registerUp(program, ctx);
  registerControlPlane(program, ctx);
  registerNode(program, ctx);
  registerRouter(program, ctx);
  registerVersion(program, ctx);
  const overrideExit = (cmd: Command): void => {
    cmd.exitOverride();
    for (const sub of cmd.commands) overrideExit(sub);
  };
  overrideExit(program);

  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCodes.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    let e = AteError.from(err);
    if (e.code === Code.Unauthenticated) e = ctx.unauthenticated(e);
    for (const line of e.details.length ? e.details : [`Error: ${e.message}`]) io.err(line);
    return e.code === Code.Unavailable ? exitCodes.unavailable : exitCodes.failed;
  } finally {
    await ctx.close();
  }
}
