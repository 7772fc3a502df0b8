// What the node-level benches run: the counter actor on this machine's runsc.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
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
