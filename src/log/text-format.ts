/**
 * One pino JSON line as a terminal line: `15:04:05 WARN  msg key=value`, values with spaces,
 * quotes or `=` quoted. Done in process rather than by pino-pretty, which runs as a transport
 * in a worker thread (lines written just before exit could be lost, and it pulls in a dozen
 * packages for what is a few lines here).
 */
export function textLine(json: string): string {
  const { time, level, msg, ...fields } = JSON.parse(json) as Record<string, unknown>;
  const kv = Object.entries(fields).map(([k, v]) => `${k}=${show(v)}`);
  const clock = typeof time === "string" ? time.slice(11, 19) : "";
  return [clock, String(level).toUpperCase().padEnd(5), String(msg ?? ""), ...kv].join(" ");
}

function show(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}
