import { pino, stdTimeFunctions } from "pino";
import { toStderr } from "./output.ts";
import { textLine } from "./text-format.ts";

type Fields = Record<string, unknown>;

/** Structured logs: a message and fields (actor, worker, durations). */
export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /**
   * A logger whose every line carries `fields` too (an actor, worker or node). Optional so that
   * hand-made loggers (tests' capturing ones) stay simple; use withFields to call it.
   */
  child?(fields: Fields): Logger;
}

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const levels: readonly string[] = ["debug", "info", "warn", "error", "silent"];

/** $ATE_LOG, else info; a value that names no level is info (a typo must not silence logs). */
function envLevel(): LogLevel {
  const v = process.env.ATE_LOG;
  return v && levels.includes(v) ? (v as LogLevel) : "info";
}

/** A pino logger writing one line per call through `write`; logging never fails its caller. */
function pinoLogger(level: LogLevel, write: (line: string) => unknown): Logger {
  const p = pino(
    {
      level: levels.includes(level) ? level : "info",
      // No pid/hostname on every line: collectors add where a line came from themselves.
      base: null,
      timestamp: stdTimeFunctions.isoTime,
      // Level names, not pino's numbers: lines are read by people and grep as much as by machines.
      formatters: { level: (label) => ({ level: label }) },
    },
    {
      write(s: string) {
        try {
          write(s.endsWith("\n") ? s.slice(0, -1) : s);
        } catch {}
      },
    },
  );
  return wrap(p);
}

const repeats = (fields: Fields, bound: Fields) => {
  for (const k in fields) if (k in bound && bound[k] === fields[k]) return true;
  return false;
};

/** `bound`: the child's fields, which a call repeating them (`{ node }`) does not write twice. */
function wrap(p: pino.Logger, bound: Fields = {}): Logger {
  const at =
    (l: "debug" | "info" | "warn" | "error") =>
    (msg: string, fields: Fields = {}) => {
      // A field that does not serialize, or a lost stream, never reaches the caller.
      try {
        if (!repeats(fields, bound)) return void p[l](fields, msg);
        const own = Object.entries(fields).filter(([k, v]) => !(k in bound && bound[k] === v));
        p[l](Object.fromEntries(own), msg);
      } catch {}
    };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (fields) => wrap(p.child(fields), { ...bound, ...fields }),
  };
}

/** JSON lines on stderr at or above `level` (default: $ATE_LOG, else info). */
export function jsonLogger(
  level: LogLevel = envLevel(),
  write: (line: string) => unknown = toStderr,
): Logger {
  return pinoLogger(level, write);
}

/**
 * Human-readable lines (`15:04:05 WARN msg key=value`) at or above `level`, for a terminal;
 * values with spaces are quoted. The same pino logger, its lines reformatted (text-format.ts).
 */
export function textLogger(
  level: LogLevel = envLevel(),
  write: (line: string) => unknown = toStderr,
): Logger {
  return pinoLogger(level, (json) => write(textLine(json)));
}

/** Text on a terminal, JSON lines otherwise (for log collectors); $ATE_LOG_FORMAT=json|text decides. */
export function defaultLogger(): Logger {
  const format = process.env.ATE_LOG_FORMAT ?? (process.stderr.isTTY ? "text" : "json");
  return format === "text" ? textLogger() : jsonLogger();
}

/** `log` with `fields` on every line: its child logger, or a wrapper for loggers without one. */
export function withFields(log: Logger, fields: Fields): Logger {
  if (log.child) return log.child(fields);
  const at = (l: "debug" | "info" | "warn" | "error") => (msg: string, f?: Fields) =>
    log[l](msg, { ...fields, ...f });
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (more) => withFields(log, { ...fields, ...more }),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
