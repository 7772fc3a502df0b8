// One short command run to its end with its output read whole: the launcher's (launcher-child.mjs)
// and the direct fallback's (direct.ts) shared core. Plain JavaScript, as the launcher runs
// without tsx.
import { spawn } from "node:child_process";

const defaultMaxOutput = 16 * 1024 * 1024;

/**
 * Starts req ({file, args, input?, env?, cwd?, timeoutMs?, maxOutput?}); `done` resolves with
 * {code, signal, stdout, stderr, error?, timedOut?} and never rejects. `child` is undefined when
 * spawn threw (the result says why).
 */
export function runCommand(req) {
  const { file, args, input, env, cwd, timeoutMs } = req;
  const max = req.maxOutput ?? defaultMaxOutput;
  let child;
  try {
    child = spawn(file, args, {
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      ...(env ? { env } : {}),
      ...(cwd ? { cwd } : {}),
    });
  } catch (err) {
    const error = String(err?.message);
    return {
      child: undefined,
      done: Promise.resolve({ code: null, signal: null, stdout: "", stderr: "", error }),
    };
  }
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
  const done = new Promise((resolve) => {
    let settled = false;
    const finish = (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
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
  });
  if (input !== undefined) {
    // A command may exit before reading its input: its exit code says so.
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  }
  return { child, done };
}
