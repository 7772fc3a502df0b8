// The launcher: a small node process that starts short commands for the ate process that
// started it (see index.ts). Plain JavaScript, so it starts without tsx and stays small: a
// spawn forks the whole process, and forking this one costs a fraction of forking the agent.
// Protocol, one JSON object a line. In (stdin): {id, file, args, input?, env?, cwd?,
// timeoutMs?, maxOutput?} runs a command; {kill: id} ends one (SIGTERM). Out (stdout):
// {ready: true} once, then per command {id, code, signal, stdout, stderr, error?, timedOut?}.
import { runCommand } from "./run-command.mjs";

// Its life is its stdin's: a Ctrl-C or a SIGTERM meant for `ate up` reaches this process too
// (same process group), and the agent still needs it while it shuts down cleanly.
for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, () => {});
if (process.env.ATE_LAUNCHER_NODE_OPTIONS !== undefined) {
  // The agent's own NODE_OPTIONS (tsx), kept from this process, handed back to its commands.
  process.env.NODE_OPTIONS = process.env.ATE_LAUNCHER_NODE_OPTIONS;
  delete process.env.ATE_LAUNCHER_NODE_OPTIONS;
}

/** Commands running: id → child. */
const running = new Map();

const send = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);

function start(req) {
  const { child, done } = runCommand(req);
  if (child) running.set(req.id, child);
  done.then((result) => {
    running.delete(req.id);
    send({ id: req.id, ...result });
  });
}

let buffered = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  buffered += chunk;
  for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (!line) continue;
    const msg = JSON.parse(line);
    if (msg.kill !== undefined) running.get(msg.kill)?.kill("SIGTERM");
    else start(msg);
  }
});
// The ate process is gone (or let it go): nothing of this process stays behind it.
const end = () => {
  for (const child of running.values()) child.kill("SIGTERM");
  process.exit(0);
};
process.stdin.on("end", end);
process.stdin.on("error", end);
process.stdout.on("error", end);
send({ ready: true });
