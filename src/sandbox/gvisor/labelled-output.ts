import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, constants, openSync, unlinkSync } from "node:fs";
import { join } from "node:path";

/**
 * Where one container of a multi-container sandbox writes its stdout and stderr: a pipe into a
 * `sed` that prefixes each line with `[<container>] ` and appends it to the actor's log (`log`,
 * an fd open for appending), so one log still holds the actor's whole output and every line
 * says whose it is. The sandbox writes into the pipe itself (runsc hands it the fds of the
 * `runsc run|restore` that started the container), so nothing of the agent sits in between:
 * the sed runs in a session of its own, outlives an agent restart, and ends once the last
 * writer (the sandbox) closed the pipe. A single-container sandbox writes to the log directly,
 * unlabelled, as before.
 *
 * A real pipe (a FIFO, unlinked at once), not the socket pair Node makes for "pipe" stdio:
 * gVisor cannot restore a container whose stdio was a host socket (it panics in
 * HostConnectedEndpoint.afterLoad), and a pipe it restores onto the new one given.
 *
 * Returns the pipe's writing end: the caller hands it to the runsc it spawns, then closes it.
 */
export function labelledOutput(logDir: string, log: number, container: string): number {
  // Container names are DNS labels; anything else is replaced rather than reach sed's script.
  const label = container.replace(/[^A-Za-z0-9._-]/g, "_");
  const fifo = join(logDir, `.${randomBytes(6).toString("hex")}.fifo`);
  execFileSync("mkfifo", ["-m", "600", fifo], { stdio: "ignore" });
  let both: number | undefined;
  let reader: number | undefined;
  try {
    // Opened read-write first, so that neither open below waits for the other side.
    both = openSync(fifo, constants.O_RDWR);
    reader = openSync(fifo, constants.O_RDONLY);
    const writer = openSync(fifo, constants.O_WRONLY);
    const sed = spawn("sed", ["-u", `s/^/[${label}] /`], {
      stdio: [reader, log, log],
      detached: true,
    });
    sed.unref();
    sed.on("error", () => {}); // no sed: the container's writes fail, its start does not
    return writer;
  } finally {
    // The sed and the runsc hold their own copies; the name is needed no more.
    for (const fd of [both, reader]) if (fd !== undefined) closeSync(fd);
    unlinkSync(fifo);
  }
}
