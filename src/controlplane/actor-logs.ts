import { setTimeout as sleep } from "node:timers/promises";
import { Code, isAteError } from "../errors/index.ts";
import { maxLogPieceBytes } from "../node/index.ts";
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
  for (;;) {
    for (const node of nodes.names()) {
      // A node answers a piece at a time; a short piece is its end for now.
      for (;;) {
        const from = offsets.get(node) ?? 0;
        const chunk = await nodes.get(node).logs(identity, from);
        if (chunk.length) {
          offsets.set(node, from + chunk.length);
          yield chunk;
        }
        if (chunk.length < maxLogPieceBytes || o.signal?.aborted) break;
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
