// The collector's sweep of node-local snapshots (paused actors'): every reachable node lists
// its own snapshots (NodeAgentApi.listSnapshots) BEFORE the records are read, as storage is
// (see gc.ts), and removes (deleteSnapshot) those no record points at. A pause's snapshot is
// written before any record names it, and no mark says where it will be: it is left while its
// actor has an operation under way (Marks.busy, read after the listing, so a pause that wrote
// a listed snapshot has either committed it by then or is still marked), and, for a pause cut
// short by a crash, until it is older than the grace period.
import type { LocalSnapshot } from "../node/index.ts";
import type { Marks } from "./gc-mark.ts";
import { snapshotKey } from "./gc-mark.ts";
import type { NodeDirectory } from "./nodes.ts";

export interface NodeListing {
  node: string;
  location: string;
  snapshots: LocalSnapshot[];
}

/** Each reachable node's own snapshots; the unreachable ones are named in `skipped`. */
export async function listNodeSnapshots(
  nodes: NodeDirectory,
  signal?: AbortSignal,
): Promise<{ listed: NodeListing[]; skipped: { location: string; error: string }[] }> {
  const listed: NodeListing[] = [];
  const skipped: { location: string; error: string }[] = [];
  for (const node of await nodes.names()) {
    try {
      const l = await nodes.get(node).listSnapshots(signal ? { signal } : {});
      listed.push({ node, ...l });
    } catch (err) {
      skipped.push({ location: `node ${node}`, error: (err as Error).message });
    }
  }
  return { listed, skipped };
}

/** What of a node's listing may go now, and why. */
export function localGarbage(
  l: NodeListing,
  marks: Marks,
  now: number,
  graceMs: number,
): { snapshot: LocalSnapshot; reason: "released" | "unowned" }[] {
  const base = `${snapshotKey(l.location)}/`;
  const out: { snapshot: LocalSnapshot; reason: "released" | "unowned" }[] = [];
  for (const s of l.snapshots) {
    const key = snapshotKey(s.uri);
    if (marks.owned.has(key) || !key.startsWith(base)) continue;
    const [atespace, actor] = key.slice(base.length).split("/");
    if (marks.busy.has(`${atespace}/${actor}`)) continue;
    if (marks.released.has(key)) out.push({ snapshot: s, reason: "released" });
    else if (graceMs === 0 || s.modifiedAt <= now - graceMs)
      out.push({ snapshot: s, reason: "unowned" });
  }
  return out;
}
