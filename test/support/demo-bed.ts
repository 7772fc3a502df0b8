// A demo's end-to-end test bed: a registry, `ate up`'s composition in process (real gvisor
// workers, the default runtime declared from this machine's runsc, as `ate up` does), the
// demo's image built and its manifests applied with the CLI's own commands, as its README
// has a user do, and an SDK client of the substrate (API and router).
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jsonLogger, silentLogger } from "../../src/log/index.ts";
import { type AteClient, connect } from "../../src/sdk/index.ts";
import { type RunningSubstrate, startSubstrate } from "../../src/up/index.ts";
import { runCliCaptured } from "./cli.ts";
import { waitForGolden } from "./counter-resources.ts";
import { removeLeftoverWorkers } from "./leftover-workers.ts";
import { type RunningRegistry, startRegistry } from "./registry.ts";

export interface DemoBed {
  ate: RunningSubstrate;
  registry: RunningRegistry;
  /** The SDK, as the demo's user holds it: admin token, the API and the router. */
  client: AteClient;
  /** `ate <args>` in process against the substrate; fails the test on a non-zero exit. */
  cli(...args: string[]): Promise<string>;
  /**
   * Applies a demo manifest as its README does: IMAGE replaced by the pinned reference and
   * the snapshot location moved into the test's directory.
   */
  apply(manifest: string, image?: string): Promise<string>;
  /** Waits for the templates' golden snapshots and for `workers` free workers. */
  ready(templates: string[], workers: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startDemoBed(dir: string): Promise<DemoBed> {
  const registry = await startRegistry();
  let ate: RunningSubstrate;
  try {
    ate = await startSubstrate({
      stateDir: join(dir, "state"),
      apiAddr: "127.0.0.1:0",
      routerAddr: "127.0.0.1:0",
      nodeName: "node-1",
      idleTimeoutMs: 0, // the tests suspend and resume; nothing behind their backs
      logger: process.env.ATE_TEST_DEBUG ? jsonLogger("debug") : silentLogger,
    });
  } catch (err) {
    await registry.stop();
    throw err;
  }
  const s = ate;
  const cli = async (...args: string[]) => {
    const r = await runCliCaptured(["--server", s.apiUrl, "--token", s.credential.token, ...args]);
    assert.equal(r.code, 0, `ate ${args.join(" ")}: ${r.err}`);
    return r.out;
  };
  let applied = 0;
  return {
    ate,
    registry,
    client: connect({ server: s.apiUrl, token: s.credential.token, router: s.routerUrl }),
    cli,
    async apply(manifest, image) {
      let text = readFileSync(manifest, "utf8").replaceAll(
        "file:///var/lib/ate/snapshots",
        `file://${join(dir, "snapshots")}`,
      );
      if (image) text = text.replaceAll("IMAGE", image);
      // A test never writes into the machine's own ate state.
      assert.doesNotMatch(text, /\/var\/lib\/ate/, `${manifest} still points at /var/lib/ate`);
      // The in-process CLI has no stdin: the edited manifest goes through a file.
      const file = join(dir, `manifest-${++applied}.yaml`);
      writeFileSync(file, text);
      return cli("apply", "-f", file);
    },
    async ready(templates, workers) {
      await waitForGolden(s.resources, templates, 180_000);
      const deadline = Date.now() + 120_000;
      for (;;) {
        const free = (await s.controlPlane.listWorkers()).filter((w) => !w.actor).length;
        if (free >= workers) return;
        assert.ok(Date.now() < deadline, `${workers} free workers within 120 s (${free})`);
        await sleep(100);
      }
    },
    async stop() {
      // Bounded: a substrate stuck in a failed run must not keep its leftovers from being removed.
      const bound = new AbortController();
      await Promise.race([
        s.stop().catch(() => {}),
        sleep(120_000, undefined, { signal: bound.signal }).catch(() => {}),
      ]);
      bound.abort();
      // Whatever a failed run left (after a clean stop there is nothing to remove).
      await removeLeftoverWorkers(join(dir, "state", "node"), { prefix: s.network.prefix });
      await registry.stop();
    },
  };
}
