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

/**
 * Writes a line to stderr unless it is gone; never throws. Synchronous through
 * process.stderr (not a pino transport thread): a line logged just before exit is not lost,
 * and a lost stream is seen by tolerateLostOutput's handler.
 */
export function toStderr(line: string): void {
  if (lost.has("stderr") || process.stderr.destroyed) return;
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // A stream that fails at once (rather than by an 'error' event) is as good as lost.
    lost.add("stderr");
  }
}
