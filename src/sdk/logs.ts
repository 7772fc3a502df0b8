// An actor's output as the API serves it (src/server/logs-route.ts, what `ate logs` prints):
// text, from every worker it ran on; with `follow`, kept open across suspends and resumes.
import { fromErrorBody } from "../errors/index.ts";
import { fromCallError } from "./call-error.ts";
import type { Endpoints } from "./options.ts";
import { readBody, request } from "./request.ts";

export interface LogsOptions {
  /** Keep reading what the actor writes until the signal aborts or the actor is deleted. */
  follow?: boolean;
  /** Ends the iteration (without an error) when it aborts. */
  signal?: AbortSignal;
}

/**
 * The actor's output, chunk by chunk, as text. An error before any output (no such actor, a
 * refused token) is thrown as the server's AteError; an abort just ends the iteration.
 */
export async function* actorLogs(
  ep: Pick<Endpoints, "server" | "token" | "tls">,
  atespace: string,
  name: string,
  o: LogsOptions = {},
): AsyncGenerator<string, void, undefined> {
  const { signal } = o;
  if (signal?.aborted) return;
  const url = `${ep.server}/ate/v1/atespaces/${encodeURIComponent(atespace)}/actors/${encodeURIComponent(name)}/logs${o.follow ? "?follow=true" : ""}`;
  const headers = ep.token ? { authorization: `Bearer ${ep.token}` } : {};
  const decoder = new TextDecoder();
  try {
    const res = await request(url, { method: "GET", headers, signal, tls: ep.tls });
    if (res.statusCode !== 200)
      throw fromErrorBody(res.statusCode ?? 0, (await readBody(res)).toString());
    for await (const chunk of res) {
      const text = decoder.decode(chunk as Buffer, { stream: true });
      if (text) yield text;
    }
    const rest = decoder.decode();
    if (rest) yield rest;
  } catch (err) {
    if (signal?.aborted) return;
    throw fromCallError(err, ep.server);
  }
}
