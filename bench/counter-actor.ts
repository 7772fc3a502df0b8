// What the node-level benches run: the counter actor on this machine's runsc.
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Workload } from "../src/node/index.ts";

/** This machine's runsc as a gvisor runtime (file:// assets are read from /usr/bin). */
export function machineRunscAssets(runsc = "/usr/bin/runsc") {
  return {
    sandboxClass: "gvisor" as const,
    assets: {
      amd64: {
        runsc: {
          url: `file://${runsc}`,
          sha256: createHash("sha256").update(readFileSync(runsc)).digest("hex"),
        },
      },
    },
  };
}

/** The counter demo's container with its durable /data. */
export function counterWorkload(image: string): Workload {
  return {
    containers: [
      {
        name: "counter",
        image,
        readyz: { path: "/readyz", port: 8080 },
        volumeMounts: [{ name: "data", mountPath: "/data" }],
      },
    ],
    volumes: [{ name: "data", durableDir: {} }],
  };
}

/** A bench actor of the counter template. */
export function counterActor(actorId: string) {
  return { atespace: "bench", templateNamespace: "default", templateName: "counter", actorId };
}

/**
 * A copy of a sandbox bundle for raw runsc: the same rootfs and spec, its bind mounts
 * (volumes, identity, resolv.conf) copied so the agent's wipes do not touch them, in the
 * network namespace at netnsPath.
 */
export function copyBundle(from: string, to: string, netnsPath: string): string {
  const spec = JSON.parse(readFileSync(join(from, "config.json"), "utf8")) as {
    mounts: { type: string; source: string }[];
    linux: { namespaces: { type: string; path?: string }[] };
  };
  mkdirSync(join(to, "mounts"), { recursive: true });
  spec.mounts.forEach((m, n) => {
    if (m.type !== "bind") return;
    const copy = join(to, "mounts", String(n));
    cpSync(m.source, copy, { recursive: true, preserveTimestamps: true });
    m.source = copy;
  });
  for (const ns of spec.linux.namespaces) if (ns.type === "network") ns.path = netnsPath;
  writeFileSync(join(to, "config.json"), JSON.stringify(spec, null, 2));
  return to;
}
