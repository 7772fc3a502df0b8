import { AteError, Code } from "../errors/index.ts";

export type OperationKind = "resume" | "checkpoint";

/**
 * The lifecycle operations under way, so that a shutdown can stop them in order: first no new
 * resumes (those under way are aborted and roll back), then no operations at all, each step
 * resolving once nothing it stopped still runs. Checkpoints are never aborted here: they keep
 * an actor's state.
 */
export class Operations {
  private readonly inflight: Record<OperationKind, Set<Promise<unknown>>> = {
    resume: new Set(),
    checkpoint: new Set(),
  };
  private readonly resumes = new AbortController();
  private refusing: OperationKind[] = [];

  /** Runs f as an operation of this kind; its signal also fires when resumes are stopped. */
  run<T>(
    kind: OperationKind,
    signal: AbortSignal | undefined,
    f: (signal: AbortSignal | undefined) => Promise<T>,
  ): Promise<T> {
    if (this.refusing.includes(kind))
      return Promise.reject(
        new AteError(
          Code.Unavailable,
          `ate is shutting down: no new ${kind === "resume" ? "resumes" : "operations"} are taken; retry once it is back`,
        ),
      );
    const own = kind === "resume" ? this.resumes.signal : undefined;
    const merged = own && signal ? AbortSignal.any([own, signal]) : (own ?? signal);
    const p = f(merged);
    const set = this.inflight[kind];
    set.add(p);
    const done = () => set.delete(p);
    p.then(done, done);
    return p;
  }

  /** Refuses new resumes, aborts those under way and resolves once they ended. */
  async stopResumes(): Promise<void> {
    if (!this.refusing.includes("resume")) this.refusing.push("resume");
    this.resumes.abort(
      new AteError(Code.Unavailable, "ate is shutting down: the resume was stopped"),
    );
    await settle(this.inflight.resume);
  }

  /** Refuses every operation and resolves once those under way (e.g. checkpoints) ended. */
  async close(): Promise<void> {
    await this.stopResumes();
    this.refusing = ["resume", "checkpoint"];
    await settle(this.inflight.checkpoint);
  }
}

async function settle(set: Set<Promise<unknown>>): Promise<void> {
  // Operations started while waiting are waited for too.
  while (set.size) await Promise.allSettled([...set]);
}
