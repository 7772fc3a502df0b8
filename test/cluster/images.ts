// The counter image on every node. ate pulls plain http from loopback registries only, and
// each node host has a loopback of its own: the test pushes to a docker-registry on its own
// loopback (started for the push alone), and each node host serves that same storage with a
// docker-registry on the same loopback address, so one pinned reference pulls everywhere.
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ClusterHost, HostProcess } from "../support/cluster-hosts.ts";
import { pushCounterImage } from "../support/counter-image.ts";
import { freePort } from "../support/ports.ts";
import { waitFor } from "./wait-for.ts";

/** Where images are pushed and served from, and the reference to pull. */
export interface ClusterImage {
  image: string;
  /** The loopback host:port every registry listens on. */
  registryHost: string;
  storage: string;
}

const pushConfig = "push-registry.yml";

/** Writes a docker-registry config serving `storage` on `addr`; its path. */
function registryConfig(path: string, storage: string, addr: string): string {
  writeFileSync(
    path,
    `version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\nhttp:\n  addr: ${addr}\n`,
  );
  return path;
}

/** Builds and pushes the counter image into `<dir>/registry`. */
export async function pushClusterImage(dir: string): Promise<ClusterImage> {
  const storage = join(dir, "registry");
  mkdirSync(storage);
  const registryHost = `127.0.0.1:${await freePort()}`;
  const config = registryConfig(join(dir, pushConfig), storage, registryHost);
  const registry = spawn("docker-registry", ["serve", config], { stdio: "ignore" });
  const exited = new Promise((r) => {
    registry.once("exit", r);
    registry.once("error", r);
  });
  try {
    await waitFor(
      "the registry on the test's loopback",
      async () => {
        if (registry.exitCode !== null) throw new Error("docker-registry exited");
        return (await fetch(`http://${registryHost}/v2/`)).ok;
      },
      15_000,
    );
    return { image: await pushCounterImage(registryHost), registryHost, storage };
  } finally {
    registry.kill("SIGTERM");
    await exited;
  }
}

/** A docker-registry in the host serving the pushed storage; resolves once it listens. */
export async function startHostRegistry(h: ClusterHost, img: ClusterImage): Promise<HostProcess> {
  const config = registryConfig(join(h.dir, "registry.yml"), img.storage, img.registryHost);
  const p = h.spawn("docker-registry", ["serve", config]);
  await p.waitForOutput("listening on");
  return p;
}

/** SIGKILLs the push registry a killed run in `dir` left (found by its config's path). */
export function killPushRegistry(dir: string): void {
  const arg = join(dir, pushConfig);
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0").includes(arg))
        process.kill(Number(e), "SIGKILL");
    } catch {
      // gone
    }
  }
}
