import { readFileSync } from "node:fs";

/** Where a command writes; tests capture it. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  stdin(): string;
  now(): Date;
}

export const processIO: CliIO = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  stdin: () => readFileSync(0, "utf8"),
  now: () => new Date(),
};
