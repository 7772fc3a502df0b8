// The sandbox demo: a code sandbox as an actor. POST /run {"command": "..."} runs the command
// with /usr/bin/sh in the actor's work directory and answers its stdout, stderr and exit
// code. The work directory is on a durableDir, and ate checkpoints the whole sandbox, so
// what a command writes is there for the next one after a suspend and a resume on any worker.
//
// The actor is the isolation boundary (gVisor): any command is run, as the demo's point, but
// every run is bounded (a time limit, an output cap, a few at a time) so one command cannot
// wedge the server that answers the next, and hostile bodies are refused naming the field.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { hostname } from "node:os";

const port = Number(process.env.PORT ?? 8080);
/** Where commands run and write their files: under the durableDir. */
const workDir = process.env.WORK_DIR ?? "/data/work";
/** Bytes kept of each of stdout and stderr; past it the command is stopped. */
const outputLimit = Number(process.env.OUTPUT_LIMIT ?? 1024 * 1024);
const defaultTimeoutMs = 10_000;
const maxTimeoutMs = 60_000;
const maxBodyBytes = 64 * 1024;
const maxCommandBytes = 16 * 1024;
/** Commands running at once; more are refused (429) rather than queued without bound. */
const maxRunning = 4;
const fields = ["command", "timeoutMs"];

mkdirSync(workDir, { recursive: true });
let running = 0;

/** A refusal: its status and the message (which names the field at fault). */
class Refused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface RunRequest {
  command: string;
  timeoutMs: number;
}

export interface RunResult {
  /** The shell's exit code; null when it was killed (see signal). */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Killed at the time limit. */
  timedOut: boolean;
  /** Killed because a stream passed the output cap; the output kept is the first bytes. */
  truncated: boolean;
  durationMs: number;
  actor: string;
}

/** Who this actor is: ate writes the id into every actor it starts. */
function actorId(): string {
  try {
    return readFileSync("/run/ate/actor-id", "utf8").trim();
  } catch {
    return hostname();
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) throw new Refused(413, `body: larger than ${maxBodyBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The body, checked field by field: every refusal names the field and what it must be. */
function parseRun(text: string): RunRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new Refused(400, `body: not JSON (${(err as Error).message})`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new Refused(400, 'body: must be a JSON object, e.g. {"command": "ls -la"}');
  const o = body as Record<string, unknown>;
  for (const key of Object.keys(o))
    if (!fields.includes(key))
      throw new Refused(400, `${key}: unknown field (known: ${fields.join(", ")})`);
  const { command, timeoutMs = defaultTimeoutMs } = o;
  if (typeof command !== "string" || command.trim() === "")
    throw new Refused(400, "command: must be a non-empty string");
  if (Buffer.byteLength(command) > maxCommandBytes)
    throw new Refused(400, `command: longer than ${maxCommandBytes} bytes`);
  if (command.includes("\0")) throw new Refused(400, "command: must not contain NUL bytes");
  if (
    typeof timeoutMs !== "number" ||
    !Number.isInteger(timeoutMs) ||
    timeoutMs < 1 ||
    timeoutMs > maxTimeoutMs
  )
    throw new Refused(400, `timeoutMs: must be an integer from 1 to ${maxTimeoutMs}`);
  return { command, timeoutMs };
}

/** Runs the command in a process group of its own, so a kill reaches what it started too. */
function run({ command, timeoutMs }: RunRequest): Promise<RunResult> {
  const started = Date.now();
  const child: ChildProcess = spawn("/usr/bin/sh", ["-c", command], {
    cwd: workDir,
    detached: true,
    env: { PATH: "/usr/bin", HOME: workDir, LANG: "C.UTF-8" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const size = { stdout: 0, stderr: 0 };
  let timedOut = false;
  let truncated = false;
  const kill = () => {
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  };
  const collect = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
    const room = outputLimit - size[stream];
    if (room > 0) out[stream].push(chunk.subarray(0, room));
    size[stream] += chunk.length;
    if (size[stream] > outputLimit && !truncated) {
      truncated = true;
      kill();
    }
  };
  child.stdout?.on("data", collect("stdout"));
  child.stderr?.on("data", collect("stderr"));
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, timeoutMs);
  return new Promise((resolve) => {
    // "close", not "exit": the output is whole only once both pipes have ended.
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        exitCode: code,
        signal,
        stdout: Buffer.concat(out.stdout).toString("utf8"),
        stderr: Buffer.concat(out.stderr).toString("utf8"),
        timedOut,
        truncated,
        durationMs: Date.now() - started,
        actor: actorId(),
      });
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({
        exitCode: null,
        signal: null,
        stdout: "",
        stderr: `cannot start /usr/bin/sh: ${err.message}\n`,
        timedOut: false,
        truncated: false,
        durationMs: Date.now() - started,
        actor: actorId(),
      });
    });
  });
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(`${JSON.stringify(body)}\n`);
}

async function handleRun(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "POST") {
    res.setHeader("allow", "POST");
    throw new Refused(405, `method: ${req.method} not allowed; POST a JSON body to /run`);
  }
  const request = parseRun(await readBody(req));
  if (running >= maxRunning)
    throw new Refused(429, `busy: ${maxRunning} commands already running; try again`);
  running++;
  try {
    const result = await run(request);
    // The command itself is not logged: it may carry what its caller keeps private.
    console.log(
      `run: exit=${result.exitCode ?? result.signal} ${result.durationMs} ms${result.timedOut ? " (time limit)" : ""}${result.truncated ? " (output cap)" : ""}`,
    );
    answer(res, 200, result);
  } finally {
    running--;
  }
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://actor").pathname;
  if (path === "/readyz") {
    res.end("ok\n");
    return;
  }
  if (path !== "/run") {
    answer(res, 404, { error: 'path: try POST /run {"command": "ls -la"} or GET /readyz' });
    return;
  }
  handleRun(req, res).catch((err) => {
    if (res.headersSent) return res.destroy();
    if (err instanceof Refused) answer(res, err.status, { error: err.message });
    else answer(res, 500, { error: (err as Error).message });
  });
});

server.listen(port, () => console.log(`sandbox listening on :${port}, commands run in ${workDir}`));
