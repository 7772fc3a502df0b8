import { setTimeout as sleep } from "node:timers/promises";
import { Code, isAteError } from "../errors/index.ts";
import type { Actor } from "../records/index.ts";
import type { NodeDirectory } from "./nodes.ts";

export interface ActorLogsOptions {
  /** Keep reading as the actor writes, across resumes on other workers and nodes, until aborted or the actor is deleted. */
  follow?: boolean;
  /** How often a follow looks for new output. Default 500 ms. */
  pollMs?: number;
  signal?: AbortSignal;
}

/**
 * An actor's stdout/stderr as the nodes captured it. Each node keeps the actor's output from
 * every run there in one file, so a follow keeps an offset per node and reads whatever grew.
 */
export async function* actorLogs(
  nodes: NodeDirectory,
  current: () => Promise<Actor>,
  o: ActorLogsOptions,
): AsyncGenerator<Buffer> {
  const actor = await current();
  const identity = {
    atespace: actor.atespace,
    actorId: actor.actorId,
    templateNamespace: actor.templateNamespace,
    templateName: actor.templateName,
  };
  const offsets = new Map<string, number>();
  const signal = o.signal ? { signal: o.signal } : {};
  for (;;) {
    for (const node of await nodes.names()) {
      try {
        // Each node streams what it has from our offset to its end, in pieces.
        for await (const piece of nodes
          .get(node)
          .logs(identity, { from: offsets.get(node) ?? 0, ...signal })) {
          offsets.set(node, (offsets.get(node) ?? 0) + piece.length);
          yield Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        }
      } catch (err) {
        if (o.signal?.aborted) return;
        // A node that is gone (lost, or never reachable from here) takes its output with it;
        // the others' still counts.
        if (!isAteError(err, Code.Unavailable)) throw err;
      }
    }
    if (!o.follow || o.signal?.aborted) return;
    try {
      await sleep(o.pollMs ?? 500, undefined, o.signal ? { signal: o.signal } : {});
      await current();
    } catch (err) {
      // Aborted, or the actor was deleted: the log ends here.
      if (o.signal?.aborted || isAteError(err, Code.NotFound)) return;
      throw err;
    }
  }
}
