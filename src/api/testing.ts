/** Builders of valid objects for tests across the project. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Resource } from "./schema/index.ts";

const digest = (c: string) => `sha256:${c.repeat(64)}`;
export const sha = (c: string) => c.repeat(64);

export function sandboxConfig(name: string, spec: Record<string, unknown> = {}): Resource {
  return {
    apiVersion: "ate.dev/v1alpha1",
    kind: "SandboxConfig",
    metadata: { name },
    spec: {
      sandboxClass: "gvisor",
      assets: { amd64: { runsc: { url: "file:///opt/runsc", sha256: sha("a") } } },
      ...spec,
    },
  };
}

export function workerPool(
  name: string,
  spec: Record<string, unknown> = {},
  namespace = "default",
): Resource {
  return {
    apiVersion: "ate.dev/v1alpha1",
    kind: "WorkerPool",
    metadata: { name, namespace },
    spec: { replicas: 2, ateomImage: "ateom:latest", ...spec },
  };
}

export function actorTemplate(
  name: string,
  spec: Record<string, unknown> = {},
  namespace = "default",
): Resource {
  return {
    apiVersion: "ate.dev/v1alpha1",
    kind: "ActorTemplate",
    metadata: { name, namespace },
    spec: {
      pauseImage: `registry.local/pause@${digest("b")}`,
      containers: [{ name: "main", image: `registry.local/app@${digest("c")}` }],
      snapshotsConfig: { location: testSnapshotLocation() },
      ...spec,
    },
  };
}

let testSnapshots: string | undefined;

/**
 * Where actorTemplate's templates keep snapshots unless a test says: a directory of this test
 * process's own (removed at its exit), never a real installation's (/var/lib/ate/snapshots):
 * a collector run in a test sweeps the locations its templates name.
 */
export function testSnapshotLocation(): string {
  if (!testSnapshots) {
    const dir = mkdtempSync(join(tmpdir(), "ate-test-snapshots-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    testSnapshots = pathToFileURL(dir).href;
  }
  return testSnapshots;
}

/** A v1 Namespace document. */
export function namespaceObject(name: string): Resource {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name }, spec: {} };
}

/** A v1 Secret document with these stringData values. */
export function secretObject(
  name: string,
  stringData: Record<string, string> = {},
  namespace = "default",
): Resource {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace },
    stringData,
  } as unknown as Resource;
}
