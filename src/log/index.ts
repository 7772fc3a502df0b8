/** Structured logs: a message and fields (actor, worker, durations). */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const order: LogLevel[] = ["debug", "info", "warn", "error", "silent"];

/** JSON lines on stderr at or above `level` (default: $ATE_LOG, else info). */
export function jsonLogger(
  level: LogLevel = (process.env.ATE_LOG as LogLevel) || "info",
  write: (line: string) => unknown = (line) => process.stderr.write(`${line}\n`),
): Logger {
  const min = order.indexOf(level);
  const at =
    (l: LogLevel) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (order.indexOf(l) >= min)
        write(JSON.stringify({ time: new Date().toISOString(), level: l, msg, ...fields }));
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/**
 * Human-readable lines (`15:04:05 WARN msg key=value`) at or above `level`, for a terminal;
 * values with spaces are quoted.
 */
export function textLogger(
  level: LogLevel = (process.env.ATE_LOG as LogLevel) || "info",
  write: (line: string) => unknown = (line) => process.stderr.write(`${line}\n`),
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
      const kv = Object.entries(fields).map(([k, v]) => `${k}=${show(v)}`);
      write(
        [new Date().toISOString().slice(11, 19), l.toUpperCase().padEnd(5), msg, ...kv].join(" "),
      );
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** Text on a terminal, JSON lines otherwise (for log collectors); $ATE_LOG_FORMAT=json|text decides. */
export function defaultLogger(): Logger {
  const format = process.env.ATE_LOG_FORMAT ?? (process.stderr.isTTY ? "text" : "json");
  return format === "text" ? textLogger() : jsonLogger();
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
