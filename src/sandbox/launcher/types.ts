/** A short command: runs to its end in well under a few seconds, its output read whole. */
export interface ShortCommand {
  file: string;
  args: readonly string[];
  /** Written to its stdin, which is then closed; without it, stdin is /dev/null. */
  input?: string;
  /** Ends it (SIGTERM); the call then rejects with an AbortError at once. */
  signal?: AbortSignal;
  /** Ends it (SIGTERM) after this long: the result says timedOut. */
  timeoutMs?: number;
  /** Bytes kept of stdout, and of stderr (16 MiB): past that it is ended, and `error` says so. */
  maxOutput?: number;
  env?: Record<string, string>;
  cwd?: string;
}

export interface ShortResult {
  /** Its exit code, null when a signal ended it or it never started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Why it failed other than by its exit: could not start (spawn … ENOENT), output too big. */
  error?: string;
  timedOut?: boolean;
}
