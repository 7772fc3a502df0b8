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
  write = (line: string) => process.stderr.write(`${line}\n`),
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

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
