import http from "node:http";
import net from "node:net";

export interface Upstream {
  host: string;
  port: number;
  /** host:port of the node's entry point to go through (HTTP CONNECT); absent: direct. */
  entry?: string;
  /** The entry point's secret (its node's entry token), sent as Proxy-Authorization: Bearer. */
  entryToken?: string;
}

/** The longest answer head an entry point may send to a CONNECT. */
const maxHead = 8192;

/**
 * The error code of a CONNECT the entry point refused for its token (407, 403): the token
 * is stale (the node restarted) or the worker is no longer there; read the actor again.
 */
export const entryRefused = "EENTRYREFUSED";

/** Connection errors before a byte of a request left: the request may be tried again. */
export const beforeSending = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ECONNRESET",
  "ETIMEDOUT",
  entryRefused,
]);

/**
 * A connected socket to the actor: directly, or through its node's entry point (an HTTP
 * CONNECT proxy that checks the node's entry token, sent as Proxy-Authorization: Bearer). A
 * refusal by the entry point because the worker refused (502) fails like a refused direct
 * connection (ECONNREFUSED), so a caller retries elsewhere the same way; a refusal of the
 * token or the address (403, 407) fails with `entryRefused`.
 */
export function connectUpstream(
  target: Upstream,
  done: (err: Error | null, socket?: net.Socket) => void,
): void {
  if (!target.entry) {
    const s = net.connect(target.port, target.host);
    const fail = (err: Error) => done(err);
    s.once("error", fail);
    s.once("connect", () => {
      s.off("error", fail);
      done(null, s);
    });
    return;
  }
  const [host, port] = splitHostPort(target.entry);
  const s = net.connect(port, host);
  let head = Buffer.alloc(0);
  let finished = false;
  const finish = (err: Error | null) => {
    if (finished) return;
    finished = true;
    s.off("data", onData);
    if (err) {
      s.destroy();
      return done(err);
    }
    done(null, s);
  };
  const onData = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) {
      if (head.length > maxHead) finish(entryError("an oversized answer", "EPROTO"));
      return;
    }
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.toString("latin1"))?.[1] ?? 0);
    const rest = head.subarray(end + 4);
    if (status !== 200) {
      const why = head.subarray(0, end).toString("latin1").split("\r\n")[0] ?? "";
      // 502: the entry point reached the node, but the worker refused or was unreachable.
      const code =
        status === 502
          ? "ECONNREFUSED"
          : status === 403 || status === 407
            ? entryRefused
            : "EPROTO";
      return finish(entryError(why, code));
    }
    if (rest.length) s.unshift(rest);
    finish(null);
  };
  s.on("data", onData);
  s.once("error", (err) => finish(err));
  s.once("close", () => finish(entryError("closed before answering", "ECONNRESET")));
  s.once("connect", () => {
    const authority = `${target.host}:${target.port}`;
    const token = target.entryToken;
    s.write(
      `CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n${token ? `proxy-authorization: Bearer ${token}\r\n` : ""}\r\n`,
    );
  });
}

/**
 * connectUpstream, and once more to where `again` says (the actor read afresh) when the first
 * try was refused before a byte was sent: the worker moved, or the entry point wants its
 * node's new token.
 */
export function connectOrRetry(
  first: Upstream,
  again: () => Promise<Upstream>,
  done: (err: Error | null, socket?: net.Socket) => void,
): void {
  connectUpstream(first, (err, socket) => {
    if (!err || !beforeSending.has((err as NodeJS.ErrnoException).code ?? ""))
      return done(err, socket);
    again().then(
      (fresh) => connectUpstream(fresh, done),
      (e) => done(e as Error),
    );
  });
}

/** An http.Agent whose connections go through `connectUpstream` (keep-alive, pooled). */
export class UpstreamAgent extends http.Agent {
  constructor(private readonly target: Upstream) {
    super({ keepAlive: true, maxSockets: 256 });
  }

  override createConnection(
    _options: unknown,
    callback?: (err: Error | null, socket: net.Socket) => void,
  ): net.Socket {
    // Node's Agent waits for the callback when nothing is returned.
    connectUpstream(this.target, (err, socket) => callback?.(err, socket as net.Socket));
    return undefined as unknown as net.Socket;
  }
}

function splitHostPort(entry: string): [string, number] {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(entry);
  return [m?.[1] ?? entry, Number(m?.[2] ?? 0)];
}

function entryError(why: string, code: string): Error {
  return Object.assign(new Error(`the node's entry point refused: ${why}`), { code });
}
