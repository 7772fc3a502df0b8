// The counter scenarios' bed on one machine: a registry with the counter image, `ate up`'s
// composition in process (real gvisor workers, nothing idles out behind the test's back), the
// counter resources applied and their golden snapshots Ready. Called inside a test, it cleans up
// after that test whatever happens: the substrate stopped (unless the test stopped it), the
// workers it left removed, the registry stopped and the directory gone.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { jsonLogger, type Logger, silentLogger } from "../../src/log/index.ts";
import { type RunningSubstrate, startSubstrate } from "../../src/up/index.ts";
import { pushCounterImage } from "./counter-image.ts";
import { applyCounterSetup, type CounterSetup, waitForGolden } from "./counter-resources.ts";
import { removeLeftoverWorkers } from "./leftover-workers.ts";
import { type RunningRegistry, startRegistry } from "./registry.ts";

export interface CounterSubstrateOptions {
  /** mkdtemp prefix of the test's directory (state and snapshots), e.g. "ate-gc-". */
  tmpPrefix: string;
  replicas: number;
  /** As CounterSetup's; {} declares none (the test declares its own and waits for them). */
  templates?: CounterSetup["templates"];
  /** Default: debug JSON on stdout with H4_DEBUG set, else silent. */
  logger?: Logger;
}

export interface CounterSubstrate {
  /** The test's directory: state/ (the substrate's) and snapshots/. */
  dir: string;
  /** The pushed counter image's pinned reference. */
  image: string;
  /** What was applied (snapshotsDir is the file:// snapshot location's directory). */
  setup: CounterSetup;
  ate: RunningSubstrate;
  /** Stops the substrate now (the clean-up then leaves it be); what the stop reports. */
  stop(): ReturnType<RunningSubstrate["stop"]>;
}

export async function counterSubstrate(o: CounterSubstrateOptions): Promise<CounterSubstrate> {
  const dir = mkdtempSync(join(tmpdir(), o.tmpPrefix));
  let registry: RunningRegistry | undefined;
  let ate: RunningSubstrate | undefined;
  let prefix = "";
  // Registered first, so that a start failing half way is cleaned up too.
  after(async () => {
    await ate?.stop().catch(() => {});
    if (prefix) await removeLeftoverWorkers(join(dir, "state", "node"), { prefix });
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  registry = await startRegistry();
  const image = await pushCounterImage(registry.host);
  ate = await startSubstrate({
    runsc: false,
    stateDir: join(dir, "state"),
    apiAddr: "127.0.0.1:0",
    routerAddr: "127.0.0.1:0",
    nodeName: "node-1",
    idleTimeoutMs: 0,
    logger: o.logger ?? (process.env.H4_DEBUG ? jsonLogger("debug") : silentLogger),
  });
  prefix = ate.network.prefix;
  const setup: CounterSetup = {
    image,
    snapshotsDir: join(dir, "snapshots"),
    replicas: o.replicas,
    ...(o.templates ? { templates: o.templates } : {}),
  };
  await applyCounterSetup(ate.resources, setup);
  await waitForGolden(ate.resources, Object.keys(o.templates ?? { counter: {} }), 120_000);
  const running = ate;
  return {
    dir,
    image,
    setup,
    ate: running,
    async stop() {
      const stopped = await running.stop();
      ate = undefined;
      return stopped;
    },
  };
}
