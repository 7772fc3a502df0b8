import { AteError, Code } from "../../errors/index.ts";

/**
 * Bounds a download: `idleMs` without a byte (waiting for the first one included) or
 * `totalMs` in all aborts `signal` with a DEADLINE_EXCEEDED error naming what was fetched,
 * so a hung source frees whatever waits on it in seconds.
 */
export class DownloadWatchdog {
  private readonly ac = new AbortController();
  private idle: NodeJS.Timeout | undefined;
  private readonly total: NodeJS.Timeout;
  readonly signal: AbortSignal;

  constructor(
    private readonly o: { what: string; idleMs: number; totalMs: number; signal?: AbortSignal },
  ) {
    this.signal = o.signal ? AbortSignal.any([this.ac.signal, o.signal]) : this.ac.signal;
    this.total = setTimeout(
      () =>
        this.fire(
          `${o.what}: not fetched within ${seconds(o.totalMs)} (total download budget); the download was stopped`,
        ),
      o.totalMs,
    );
    this.total.unref();
    this.touch();
  }

  /** Data arrived: the idle clock starts again. */
  touch(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(
      () =>
        this.fire(
          `${this.o.what}: no data for ${seconds(this.o.idleMs)} (idle timeout); the download was stopped`,
        ),
      this.o.idleMs,
    );
    this.idle.unref();
  }

  /** The watchdog's own error when it stopped the download, else undefined. */
  get reason(): AteError | undefined {
    const r = this.ac.signal.reason;
    return this.ac.signal.aborted && r instanceof AteError ? r : undefined;
  }

  stop(): void {
    clearTimeout(this.idle);
    clearTimeout(this.total);
  }

  private fire(message: string): void {
    this.stop();
    this.ac.abort(new AteError(Code.DeadlineExceeded, message));
  }
}

function seconds(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
