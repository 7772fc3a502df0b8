import type { ControlCaller, ControlPlane } from "../controlplane/index.ts";
import { AteError, Code } from "../errors/index.ts";
import { Board, poolSummaries } from "./board.ts";
import { SnapshotFactsCache } from "./snapshot-facts.ts";

/** `GET /ui/api/events`: the dashboard's data, a server-sent event stream of whole views. */
export const uiEventsPath = "/ui/api/events";

/** Who the API's edge found the caller to be (src/auth's Principal, by shape). */
export interface UiViewer {
  role: string;
  name: string;
  atespace?: string;
}

/** The response, as both HTTP/1.1 and HTTP/2 compat responses have it. */
export interface UiResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: string): boolean;
  end(): unknown;
  on(event: "close" | "drain", f: () => void): unknown;
  readonly headersSent: boolean;
}

/** Every dashboard stream of this process shares one: manifests are read once. */
const sharedFacts = new SnapshotFactsCache();

export const uiEventDefaults = {
  /** Changes arriving together are sent as one view after this long. */
  coalesceMs: 200,
  /** Activity and workers, which the actor watch does not carry, are re-read this often. */
  refreshMs: 2000,
};

/**
 * Streams the views the dashboard draws: admins see every atespace (and the workers), a
 * tenant its own atespace only (the same narrowing as ListActors and WatchActors); other
 * tokens are refused. Each event is the whole view, so a client that reads slowly misses
 * intermediate views, never the latest: nothing queues behind it.
 * Throws (before any output) for the API's edge to answer as an error.
 */
export async function handleUiEvents(
  cp: ControlPlane,
  who: UiViewer,
  revoked: AbortSignal,
  method: string | undefined,
  res: UiResponse,
  o: Partial<typeof uiEventDefaults> & { facts?: SnapshotFactsCache } = {},
): Promise<void> {
  if (method !== "GET")
    throw new AteError(
      Code.InvalidArgument,
      `${method} is not supported on ${uiEventsPath}: use GET`,
    );
  if (who.role !== "admin" && who.role !== "tenant")
    throw new AteError(
      Code.PermissionDenied,
      `the dashboard is for admin and tenant tokens, not ${who.role} token "${who.name}"`,
    );
  const atespace = who.role === "tenant" ? (who.atespace as string) : "";
  const coalesceMs = o.coalesceMs ?? uiEventDefaults.coalesceMs;
  const refreshMs = o.refreshMs ?? uiEventDefaults.refreshMs;
  const facts = o.facts ?? sharedFacts;
  const ac = new AbortController();
  res.on("close", () => ac.abort());
  const signal = AbortSignal.any([ac.signal, revoked]);
  const caller: ControlCaller = {
    role: who.role as ControlCaller["role"],
    name: who.name,
    ...(atespace ? { atespace } : {}),
  };
  // Refused (too many watches) before the stream begins: the caller gets a status.
  const events = cp.watchActors({ ...(atespace ? { atespace } : {}), signal, caller });
  const first = await events.next();
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  const board = new Board();
  let synced = false;
  let timer: NodeJS.Timeout | undefined;
  let blocked = false;
  let pending = false;
  const send = async () => {
    timer = undefined;
    if (signal.aborted) return;
    if (blocked) {
      pending = true;
      return;
    }
    board.activity(await lastActivity(cp, atespace).catch(() => new Map()));
    const pools = who.role === "admin" ? poolSummaries(await cp.listWorkers()) : undefined;
    if (signal.aborted) return;
    const view = board.view(pools);
    for (const a of view.actors) {
      if (a.snapshot?.type !== "EXTERNAL") continue;
      const f = facts.get(a.snapshot.uri, soon);
      if (f) Object.assign(a.snapshot, f);
    }
    blocked = !res.write(`event: view\ndata: ${JSON.stringify(view)}\n\n`);
  };
  res.on("drain", () => {
    blocked = false;
    if (pending) {
      pending = false;
      void send().catch(() => ac.abort());
    }
  });
  const soon = () => {
    if (synced && !timer && !signal.aborted)
      timer = setTimeout(() => void send().catch(() => ac.abort()), coalesceMs);
  };
  const refresh = setInterval(soon, refreshMs);
  try {
    for (let e = first; !e.done; e = await events.next()) {
      const ev = e.value;
      if (ev.type === "PUT") board.put(ev.actor, synced);
      else if (ev.type === "DELETED") board.delete(ev.atespace, ev.actorId);
      else synced = true;
      soon();
    }
  } catch (err) {
    // The viewer went away or its token was revoked: the stream just ends.
    if (!signal.aborted) res.write(`event: failed\ndata: ${JSON.stringify(String(err))}\n\n`);
  } finally {
    clearInterval(refresh);
    if (timer) clearTimeout(timer);
    res.end();
  }
}

/** `<atespace>/<actor>` → its newest request at any router (epoch ms). */
async function lastActivity(cp: ControlPlane, atespace: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const r of await cp.activity.reports())
    for (const a of r.actors) {
      if (a.lastActiveAt === undefined) continue;
      if (atespace && !a.key.startsWith(`${atespace}/`)) continue;
      out.set(a.key, Math.max(out.get(a.key) ?? 0, a.lastActiveAt));
    }
  return out;
}
