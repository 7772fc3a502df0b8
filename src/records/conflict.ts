import { AteError, Code } from "../errors/index.ts";
import type { RecordWrite } from "./store.ts";

export function conflict(w: RecordWrite, actual: number): AteError {
  const what = `${w.kind} ${w.key}`;
  if (w.expectVersion === 0) return new AteError(Code.AlreadyExists, `${what} already exists`);
  if (actual === 0) return new AteError(Code.NotFound, `${what} does not exist`);
  return new AteError(
    Code.Aborted,
    `${what} changed concurrently (version ${actual}, expected ${w.expectVersion}); retry`,
  );
}
