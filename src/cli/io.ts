import { readFileSync } from "node:fs";

/** Where a command writes; tests capture it. */
export interface CliIO {
  out(text: string): void;
  /** Raw output, as it comes (e.g. a followed log). */
  write(text: string): void;
  err(text: string): void;
  stdin(): string;
  now(): Date;
}

export const processIO: CliIO = {
  out: (text) => process.stdout.write(`${text}\n`),
  write: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(`${text}\n`),
  stdin: () => readFileSync(0, "utf8"),
  now: () => new Date(),
};
