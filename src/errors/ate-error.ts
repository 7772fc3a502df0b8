import { Code, codeName } from "./code.ts";

/**
 * The one error type of ate. `message` says what was wrong and what to do; `code` says how
 * callers and transports should treat it; `details` lists individual problems (e.g. each
 * field error of a rejected resource) so a CLI can print them one per line.
 */
export class AteError extends Error {
  override readonly name = "AteError";

  constructor(
    readonly code: Code,
    message: string,
    readonly details: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Wraps anything thrown into an AteError, keeping AteErrors as they are. */
  static from(err: unknown, code: Code = Code.Unknown): AteError {
    if (err instanceof AteError) return err;
    if (err instanceof Error) return new AteError(code, err.message, [], { cause: err });
    return new AteError(code, String(err));
  }

  override toString(): string {
    return `[${codeName(this.code)}] ${this.message}`;
  }
}

export function isAteError(err: unknown, code?: Code): err is AteError {
  return err instanceof AteError && (code === undefined || err.code === code);
}
