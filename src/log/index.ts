/** Structured logs: a message and fields (actor, worker, durations). */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const order: LogLevel[] = ["debug", "info", "warn", "error", "silent"];

type StdStream = "stdout" | "stderr";
const lost = new Set<StdStream>();
let tolerating = false;

/**
 * Keeps the process running when its stdout or stderr goes away: a closed pipe (`ate up | tee`,
 * and Ctrl-C kills tee first: EPIPE) or a hung-up terminal (EIO). A write error on either is
 * an 'error' event that would otherwise crash the process; from then on, output to that
 * stream is dropped. `onLost` hears of each lost stream once. Idempotent.
 */
export function tolerateLostOutput(onLost?: (stream: StdStream, error: Error) => void): void {
  if (tolerating) return;
  tolerating = true;
  for (const name of ["stdout", "stderr"] as const) {
    process[name].on("error", (err: Error) => {
      if (lost.has(name)) return;
      lost.add(name);
      onLost?.(name, err);
    });
  }
}

/** Whether stdout or stderr was lost (see tolerateLostOutput). */
export function outputLost(stream: StdStream): boolean {
  return lost.has(stream);
}

/** Writes a line to stderr unless it is gone; never throws. */
function toStderr(line: string): void {
  if (lost.has("stderr") || process.stderr.destroyed) return;
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // A stream that fails at once (rather than by an 'error' event) is as good as lost.
    lost.add("stderr");
  }
}

/** JSON lines on stderr at or above `level` (default: $ATE_LOG, else info). */
export function jsonLogger(
  level: LogLevel = (process.env.ATE_LOG as LogLevel) || "info",
  write: (line: string) => unknown = toStderr,
): Logger {
  const min = order.indexOf(level);
  const at =
    (l: LogLevel) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (order.indexOf(l) < min) return;
      // Logging never fails its caller (a lost stream, a field that does not serialize).
      try {
        write(JSON.stringify({ time: new Date().toISOString(), level: l, msg, ...fields }));
      } catch {}
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/**
 * Human-readable lines (`15:04:05 WARN msg key=value`) at or above `level`, for a terminal;
 * values with spaces are quoted.
 */
export function textLogger(
  level: LogLevel = (process.env.ATE_LOG as LogLevel) || "info",
  write: (line: string) => unknown = toStderr,
): Logger {
  const min = order.indexOf(level);
  const show = (v: unknown) => {
    const s = typeof v === "string" ? v : JSON.stringify(v);
    return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
  };
  const at =
    (l: LogLevel) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (order.indexOf(l) < min) return;
      try {
        const kv = Object.entries(fields).map(([k, v]) => `${k}=${show(v)}`);
        write(
          [new Date().toISOString().slice(11, 19), l.toUpperCase().padEnd(5), msg, ...kv].join(" "),
        );
      } catch {}
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** Text on a terminal, JSON lines otherwise (for log collectors); $ATE_LOG_FORMAT=json|text decides. */
export function defaultLogger(): Logger {
  const format = process.env.ATE_LOG_FORMAT ?? (process.stderr.isTTY ? "text" : "json");
  return format === "text" ? textLogger() : jsonLogger();
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
