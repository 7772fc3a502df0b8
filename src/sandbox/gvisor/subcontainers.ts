import { readdirSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AteError, Code } from "../../errors/index.ts";
import { privateFileMode } from "../../private-files/index.ts";

export { maxContainers } from "../driver.ts";

/**
 * Several containers in one gVisor sandbox, as a Kubernetes pod runs them under runsc: the
 * first container is the sandbox's root (started and restored in the foreground, as a
 * single-container sandbox is), each further one joins it (`runsc run --detach` of a bundle
 * whose annotations name the root). ate has no pause container: the actor's images are all it
 * pulls, and not every image has something to idle with, so the first container is the root;
 * when it ends, the sandbox ends (reported as the actor's exit, as for one container).
 *
 * A checkpoint of the root saves the whole sandbox (one checkpoint.img); a restore restores the
 * root, then each further container by name (runsc matches them to the image by the
 * `container-name` annotation), and the sandbox runs once every one is restored.
 */

/** A sandbox's bundles: its root's dir, and each further container's id, name and dir. */
export interface Bundles {
  root: string;
  subs: { id: string; name: string; dir: string }[];
}

/** The image file recording which containers a multi-container checkpoint holds, in order. */
export const containerSetFile = "containers.json";

/**
 * The ids of the sandbox's further containers (1 … count-1): `<worker>-c<hex><n>` for the root
 * `<worker>-s<hex>`. runsc resolves an id that is a prefix of another as ambiguous, so none of
 * them starts with another (one digit each: at most 9 further containers).
 */
export function subcontainerIds(rootId: string, count: number): string[] {
  const base = /-s[0-9a-f]{6}$/.test(rootId)
    ? `${rootId.slice(0, -8)}-c${rootId.slice(-6)}`
    : `${rootId}-c`;
  return Array.from({ length: Math.max(0, count - 1) }, (_, i) => `${base}${i + 1}`);
}

/** Whether an id is one of the worker's further containers (see subcontainerIds). */
export function subcontainerOf(id: string, worker: string): boolean {
  return id.startsWith(`${worker}-c`) && /^[0-9a-f]{6}[1-9]$/.test(id.slice(worker.length + 2));
}

/**
 * The ids runsc keeps state for in the sandbox `rootId` besides the root itself (its state
 * files are `<container>_sandbox:<root>.state`), read from runsc's state root without running
 * runsc: what a delete of the sandbox must delete too.
 */
export function subcontainersIn(stateRoot: string, rootId: string): string[] {
  const suffix = `_sandbox:${rootId}.state`;
  let names: string[];
  try {
    names = readdirSync(stateRoot);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith(suffix))
    .map((n) => n.slice(0, -suffix.length))
    .filter((id) => id !== rootId);
}

/** The CRI annotations by which runsc puts a container into (or makes it) a pod sandbox. */
export function podAnnotations(rootId: string, name: string, root: boolean) {
  return {
    "io.kubernetes.cri.container-type": root ? "sandbox" : "container",
    "io.kubernetes.cri.sandbox-id": rootId,
    "io.kubernetes.cri.container-name": name,
  };
}

/** Records the container names (in order) beside a bundle or in a checkpoint's image dir. */
export async function writeContainerSet(dir: string, names: string[]): Promise<void> {
  await writeFile(join(dir, containerSetFile), JSON.stringify({ containers: names }), {
    mode: privateFileMode,
  });
}

/**
 * The container names recorded in dir, or undefined when none are (a single-container
 * sandbox, or a checkpoint taken before several containers were supported: one container).
 */
export async function readContainerSet(dir: string): Promise<string[] | undefined> {
  const text = await readFile(join(dir, containerSetFile), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const names = (JSON.parse(text) as { containers?: unknown }).containers;
  if (!Array.isArray(names) || !names.every((n) => typeof n === "string"))
    throw new AteError(Code.DataLoss, `${join(dir, containerSetFile)} is not a container list`);
  return names;
}

/**
 * Refuses to restore a checkpoint into another set of containers than it holds: runsc would
 * restore the root and leave the sandbox waiting forever for a container it never gets (or
 * fail on one the image lacks), so this is checked before anything starts.
 */
export async function checkContainerSet(imageDir: string, names: string[]): Promise<void> {
  const held = await readContainerSet(imageDir);
  const same = held
    ? held.length === names.length && held.every((n, i) => n === names[i])
    : names.length === 1;
  if (same) return;
  const saved = held ? held.join(", ") : "one container";
  throw new AteError(
    Code.FailedPrecondition,
    `containers: the snapshot holds [${saved}], the restore asks for [${names.join(", ")}]; a snapshot restores only into the containers it was taken with (same names, same order); nothing was restored`,
  );
}

/** Copies a sandbox's container set from its bundle dir into its checkpoint's image dir. */
export async function keepContainerSet(bundleDir: string, imageDir: string): Promise<void> {
  const names = await readContainerSet(bundleDir);
  if (names) await writeContainerSet(imageDir, names);
}
