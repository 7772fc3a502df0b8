// bin/ate starts the light commands (get, apply, version, …) without $NODE_EXTRA_CA_CERTS,
// which node would read whole at start (≈50–70 ms), and names the file in
// $ATE_DEFERRED_CA_CERTS instead. Such a command opens a TLS connection only to an https
// server (or a rediss:// --store); when it may, it is started again with the certificates, so
// it behaves as it would have without the shortcut. Plain http (the local `ate up`) and local
// stores need no certificates. (An http server that redirected `ate logs` to https would be
// checked without them: ate's servers never redirect.)
import { resolveServer } from "./endpoint.ts";

const deferredVar = "ATE_DEFERRED_CA_CERTS";

/** The value of a global option in a command line (its last one), as `--opt v` or `--opt=v`. */
function optionValue(argv: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") break;
    if (arg === name) value = argv[++i];
    else if (arg.startsWith(`${name}=`)) value = arg.slice(name.length + 1);
  }
  return value;
}

/** Whether the command may open a TLS connection (when unsure: yes). */
export function mayUseTls(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  if (argv.some((a) => a.includes("https:") || a.startsWith("--store"))) return true;
  let server: string;
  try {
    server = resolveServer(optionValue(argv, "--server"), env);
  } catch {
    // The command fails on this configuration before it connects anywhere.
    return false;
  }
  return !server.startsWith("http:");
}

/**
 * With the certificates deferred by bin/ate: puts $NODE_EXTRA_CA_CERTS back for whatever
 * this process starts, and when the command may use TLS runs it again in a node that reads
 * them (returning its exit code). Without: undefined, nothing done.
 */
export async function restartForDeferredCa(
  argv: readonly string[],
  script: string,
): Promise<number | undefined> {
  const file = process.env[deferredVar];
  if (file === undefined) return undefined;
  delete process.env[deferredVar];
  process.env.NODE_EXTRA_CA_CERTS = file;
  if (!mayUseTls(argv)) return undefined;
  // The same script (bin/ate), told to keep the certificates this time. Signals from the
  // terminal reach both processes; a signal sent to this one is passed on.
  const { spawn } = await import("node:child_process");
  const child = spawn(script, [...argv], {
    stdio: "inherit",
    env: { ...process.env, ATE_CA_AT_START: "1" },
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((s) => {
    const h = forward(s);
    process.on(s, h);
    return [s, h] as const;
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(
    (resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (c, s) => resolve([c, s]));
    },
  );
  for (const [s, h] of handlers) process.off(s, h);
  if (signal) process.kill(process.pid, signal);
  return code ?? 1;
}
