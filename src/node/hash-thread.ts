import { Worker } from "node:worker_threads";
import { hashFile } from "../snapshots/index.ts";

/**
 * Hashing a checkpoint's image on a worker thread of its own. On the agent's main thread the
 * sha256 of a 9 MB image (≈8 ms of CPU) shared the thread with everything else a checkpoint's
 * end does at once (the durableDir tar, the tear-down's bookkeeping), and took 17–22 ms where
 * it takes ≈10 alone (bench/node-agent.bench.ts); on its own thread it runs beside them, on
 * the machine's other core. The same bytes are hashed the same way: only the thread differs.
 */

/**
 * The thread's code (CommonJS, run as is: no tsx, nothing of the agent loaded). Per request
 * {id, path}: the file read piece by piece into one reused buffer, hashed; answers {id, size,
 * sha256} or {id, error, code}.
 */
const threadCode = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { openSync, readSync, closeSync } = require("node:fs");
const buf = Buffer.allocUnsafeSlow(${1024 * 1024});
parentPort.on("message", ({ id, path }) => {
  try {
    const hash = createHash("sha256");
    const fd = openSync(path, "r");
    let size = 0;
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, null);
        if (!n) break;
        hash.update(buf.subarray(0, n));
        size += n;
      }
    } finally {
      closeSync(fd);
    }
    parentPort.postMessage({ id, size, sha256: hash.digest("hex") });
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message), code: err && err.code });
  }
});
`;

interface Answer {
  id: number;
  size?: number;
  sha256?: string;
  error?: string;
  code?: string;
}

interface Pending {
  resolve: (r: { size: number; sha256: string }) => void;
  reject: (e: unknown) => void;
}

let thread: Worker | undefined;
const pending = new Map<number, Pending>();
let nextId = 1;

/** The hashing thread, started if none runs; undefined if it cannot start. */
function hashThread(): Worker | undefined {
  if (thread) return thread;
  let w: Worker;
  try {
    // execArgv []: not the agent's --import tsx (the code is plain JavaScript).
    w = new Worker(threadCode, { eval: true, execArgv: [] });
  } catch {
    return undefined;
  }
  w.on("message", (a: Answer) => {
    const p = pending.get(a.id);
    pending.delete(a.id);
    if (!pending.size) w.unref();
    if (!p) return;
    if (a.error !== undefined)
      p.reject(Object.assign(new Error(a.error), a.code ? { code: a.code } : {}));
    else p.resolve({ size: a.size as number, sha256: a.sha256 as string });
  });
  const gone = (err: unknown) => {
    if (thread === w) thread = undefined;
    const calls = [...pending.values()];
    pending.clear();
    for (const p of calls) p.reject(err);
  };
  w.on("error", gone);
  w.on("exit", (code) => gone(new Error(`the hashing thread exited (code ${code})`)));
  w.unref(); // idle, it never keeps the process alive
  thread = w;
  return w;
}

/** Starts the hashing thread ahead of its first use (it takes a few ms of CPU to start). */
export function warmHashThread(): void {
  hashThread();
}

/** A file's size and sha256 (hex), hashed on the hashing thread (here if it cannot run). */
export function hashFileOffThread(path: string): Promise<{ size: number; sha256: string }> {
  const w = hashThread();
  if (!w) return hashFile(path);
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    w.ref(); // while it hashes, as a read would
    w.postMessage({ id, path });
  });
}
