// The launcher: a small node process that starts short commands for the ate process that
// started it (see index.ts). Plain JavaScript, so it starts without tsx and stays small: a
// spawn forks the whole process, and forking this one costs a fraction of forking the agent.
// Protocol, one JSON object a line. In (stdin): {id, file, args, input?, env?, cwd?,
// timeoutMs?, maxOutput?} runs a command; {kill: id} ends one (SIGTERM). Out (stdout):
// {ready: true} once, then per command {id, code, signal, stdout, stderr, error?, timedOut?}.
import { spawn } from "node:child_process";

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
  const { id, file, args, input, env, cwd, timeoutMs } = req;
  const max = req.maxOutput ?? 16 * 1024 * 1024;
  let child;
  try {
    child = spawn(file, args, {
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      ...(env ? { env } : {}),
      ...(cwd ? { cwd } : {}),
    });
  } catch (err) {
    send({ id, code: null, signal: null, stdout: "", stderr: "", error: String(err?.message) });
    return;
  }
  running.set(id, child);
  const out = { stdout: [], stderr: [] };
  const size = { stdout: 0, stderr: 0 };
  let error;
  let timedOut = false;
  for (const name of ["stdout", "stderr"]) {
    child[name].on("data", (d) => {
      if (error) return;
      size[name] += d.length;
      if (size[name] > max) {
        // As execFile's maxBuffer: the command is stopped, the call fails.
        error = `${name} maxBuffer length exceeded`;
        child.kill("SIGTERM");
        return;
      }
      out[name].push(d);
    });
  }
  const timer =
    timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          child.kill("SIGTERM");
        }, timeoutMs)
      : undefined;
  let done = false;
  const finish = (code, signal) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    running.delete(id);
    send({
      id,
      code,
      signal,
      stdout: Buffer.concat(out.stdout).toString("utf8"),
      stderr: Buffer.concat(out.stderr).toString("utf8"),
      ...(error ? { error } : {}),
      ...(timedOut ? { timedOut } : {}),
    });
  };
  child.on("error", (err) => {
    error ??= err.message;
    // A child that never started emits no close.
    if (child.pid === undefined) finish(null, null);
  });
  child.on("close", finish);
  if (input !== undefined) {
    // A command may exit before reading its input: its exit code says so.
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  }
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
