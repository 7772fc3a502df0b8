// The benches' baseline: raw runsc on a snapshot the agent made, as a user would run it
// (`runsc restore --detach`, `runsc checkpoint`), in a network namespace of its own (a worker
// index the agent does not use) so it can run beside the agent's sandboxes at any moment.
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { type NetworkOptions, WorkerNetworks } from "../src/sandbox/gvisor/index.ts";
import { Runsc } from "../src/sandbox/gvisor/runsc.ts";

/** Milliseconds to the first byte of a GET (no connection reuse). */
export function timeGet(
  host: string,
  port: number,
  path: string,
  hostHeader?: string,
): Promise<number> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, path, agent: false, headers: hostHeader ? { host: hostHeader } : {} },
      (res) => {
        res.once("data", () => resolve(performance.now() - t));
        res.resume();
      },
    );
    req.on("error", reject);
    req.end();
  });
}

export class RawSandbox {
  private readonly networks: WorkerNetworks;
  private readonly runsc: Runsc;
  private readonly root: string;
  private n = 0;
  private bundle = "";
  address = "";

  constructor(
    private readonly o: {
      /** The substrate's state dir (`<state>/node` holds runsc's root and the bundles). */
      state: string;
      /** Scratch space of the bench. */
      dir: string;
      network: NetworkOptions;
      /** A worker index the agent does not use. */
      index: number;
    },
  ) {
    this.networks = new WorkerNetworks(o.network);
    this.root = join(o.state, "node", "runsc");
    this.runsc = new Runsc("/usr/bin/runsc", this.root);
  }

  /**
   * Its namespace, and a bundle copied from the agent's worker's (once the agent ran a
   * sandbox there): the same spec, its own namespace and its own copies of the worker's dirs.
   */
  async prepare(worker: string, actorId: string): Promise<void> {
    this.address = await this.networks.create(this.o.index);
    const workerDir = join(this.o.state, "node", "workers", worker);
    const own = join(this.o.dir, "raw-worker");
    mkdirSync(join(own, "identity"), { recursive: true });
    writeFileSync(join(own, "identity", "actor-id"), actorId);
    mkdirSync(join(own, "volumes", "data"), { recursive: true });
    const spec = JSON.parse(
      readFileSync(join(this.o.state, "node", "bundles", worker, "config.json"), "utf8").replaceAll(
        workerDir,
        own,
      ),
    ) as { linux?: { namespaces?: { type: string; path?: string }[]; cgroupsPath?: string } };
    for (const ns of spec.linux?.namespaces ?? [])
      if (ns.type === "network") ns.path = this.networks.sandboxNsPath(this.o.index);
    delete spec.linux?.cgroupsPath;
    this.bundle = join(this.o.dir, "raw-bundle");
    mkdirSync(this.bundle, { recursive: true });
    writeFileSync(join(this.bundle, "config.json"), JSON.stringify(spec));
  }

  /** `runsc restore --detach` of imageDir, to the first byte of a GET: ms. Leaves it running. */
  async restore(imageDir: string): Promise<{ ms: number; id: string }> {
    const id = `raw-${this.o.index}-${++this.n}`; // two raw sandboxes may share runsc's root
    const t = performance.now();
    await this.runsc.restore(id, this.bundle, imageDir, join(this.o.dir, "raw.log"));
    for (const deadline = Date.now() + 20_000; ; ) {
      try {
        await timeGet(this.address, 8080, "/peek");
        break;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`the raw restore did not answer at ${this.address}: ${err}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    return { ms: performance.now() - t, id };
  }

  /**
   * `runsc checkpoint` of a raw sandbox: ms. `compress`: flate-best-speed, as the agent's
   * checkpoints for an external store; without it `--compression=none`, as its local ones.
   */
  async checkpoint(id: string, imageDir: string, compress: boolean): Promise<number> {
    mkdirSync(imageDir, { recursive: true });
    const t = performance.now();
    await this.runsc.checkpoint(id, imageDir, compress);
    return performance.now() - t;
  }

  /** Deletes a raw sandbox and readies the namespace for the next. */
  async remove(id: string): Promise<void> {
    try {
      execFileSync("/usr/bin/runsc", [`--root=${this.root}`, "delete", "--force", id]);
    } catch {}
    await this.networks.resetSandbox(this.o.index);
  }

  /**
   * As the agent after a checkpoint: the namespace readied for the next sandbox at once,
   * `runsc delete` of the stopped one left to finish in the background (awaited by the caller).
   */
  async removeInBackground(id: string): Promise<{ deleted: Promise<void> }> {
    const deleted = new Promise<void>((resolve) =>
      execFile("/usr/bin/runsc", [`--root=${this.root}`, "delete", "--force", id], () => resolve()),
    );
    await this.networks.resetSandbox(this.o.index);
    return { deleted };
  }

  async close(): Promise<void> {
    for (const id of await this.runsc.list()) if (id.startsWith("raw-")) await this.remove(id);
    await this.networks.destroy(this.o.index);
  }
}
