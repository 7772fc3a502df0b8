import { Command, CommanderError } from "commander";
import { AteError, Code } from "../errors/index.ts";
import { ateVersion } from "../version.ts";
import { registerApply } from "./commands/apply.ts";
import { registerCreate } from "./commands/create.ts";
import { registerDelete } from "./commands/delete.ts";
import { registerGet } from "./commands/get.ts";
import { registerKubeconfig } from "./commands/kubeconfig.ts";
import { registerLifecycle } from "./commands/lifecycle.ts";
import { registerLogs } from "./commands/logs.ts";
import { registerVersion } from "./commands/version.ts";
import { CliContext, type GlobalOptions } from "./context.ts";
import { type CliIO, processIO } from "./io.ts";

/**
 * Exit codes scripts can rely on: 0 done; 1 the operation failed (the message says why);
 * 2 the command line is wrong (unknown command, flag or missing argument); 3 the server is
 * unreachable or unavailable right now (retrying may help).
 */
export const exitCodes = { ok: 0, failed: 1, usage: 2, unavailable: 3 } as const;

type Register = (program: Command, ctx: CliContext) => void;

/**
 * Commands that run components or build images import most of ate (≈0.6 s of CPU at every
 * start): they are loaded only when the command line names none of the other commands, so
 * `ate get …` starts quickly while help and errors still list every command.
 */
const heavyCommands: (() => Promise<Register>)[] = [
  async () => (await import("./commands/image.ts")).registerImage,
  async () => (await import("./commands/up.ts")).registerUp,
  async () => (await import("./commands/controlplane.ts")).registerControlPlane,
  async () => (await import("./commands/node.ts")).registerNode,
  async () => (await import("./commands/router.ts")).registerRouter,
  async () => (await import("./commands/migrate.ts")).registerMigrate,
  async () => (await import("./commands/gc.ts")).registerGc,
];

/** Global options that take a value (see runCli). */
const valueOptions = new Set(["--home", "--store", "--server", "--token"]);

/** The command a command line names: its first word that is no global option or its value. */
function commandWord(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") return argv[i + 1];
    if (valueOptions.has(arg)) i++;
    else if (!arg.startsWith("-")) return arg;
  }
  return undefined;
}

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
  registerKubeconfig(program, ctx);
  const named = commandWord(argv);
  const light =
    named === "version" ||
    program.commands.some((c) => c.name() === named || c.aliases().includes(named ?? ""));
  if (!light) for (const load of heavyCommands) (await load())(program, ctx);
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
