import type { ChildProcess } from "node:child_process";
import type { ShortCommand, ShortResult } from "./types.ts";

export function runCommand(req: Omit<ShortCommand, "signal">): {
  child: ChildProcess | undefined;
  done: Promise<ShortResult>;
};
