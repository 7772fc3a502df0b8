import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { AteError, Code } from "../../errors/index.ts";

/**
 * A worker's way to the Control API: the sandbox asks its gateway (10.88.0.1:80), its NAT
 * namespace forwards that to this gateway on the node's side of the worker's link, and the
 * gateway passes Connect unary calls (`POST /ateapi.Control/<Method>`, JSON or binary) on to
 * the Control API, with an actor's token only (`ateact_…`, /run/ate/token): an admin's or a
 * tenant's token that found its way into a sandbox does not open the API from there. Who may
 * do what is decided by the API's edge, as for every caller. It bounds what a hostile sandbox
 * could make it hold or do: body and answer sizes, calls at once, a rate, and time.
 */
export interface ApiGatewayOptions {
  /** The node's address on the worker's link. */
  address: string;
  port: number;
  /** The Control API's base URL, e.g. `http://127.0.0.1:7443`. */
  target: string;
  /** Largest request body. Default 64 KiB (an actor's own calls are a few hundred bytes). */
  maxBodyBytes?: number;
  /** Largest answer passed back. Default 1 MiB. */
  maxResponseBytes?: number;
  /** Calls under way at once; more are refused RESOURCE_EXHAUSTED. Default 4. */
  maxInFlight?: number;
  /** Calls per second, sustained, and in a burst. Default 5 and 20. */
  ratePerSecond?: number;
  burst?: number;
  /** Open connections from the sandbox. Default 8. */
  maxConnections?: number;
  /**
   * How long a call may take. Default 10 min: a suspend waits for the checkpoint. The call
   * is never cut short when the sandbox goes away: its own suspend is just that.
   */
  callTimeoutMs?: number;
  /** How long the sandbox gets to send a request's headers and body. Default 10 s. */
  requestTimeoutMs?: number;
}

/** Connect unary calls of the API's services; anything else is not this address's business. */
const callPath = /^\/ateapi\.(Control|Admin)\/[A-Za-z]{1,64}$/;
const contentTypes = new Set(["application/json", "application/proto"]);
/** Headers passed on: the credential and what the Connect protocol needs, nothing else. */
const passed = ["authorization", "content-type", "connect-protocol-version", "connect-timeout-ms"];
/** An actor's token (src/auth/actor-token.ts); the API checks the rest of it. */
const actorBearer = /^bearer +ateact_/i;

export class ApiGateway {
  private inFlight = 0;
  private tokens: number;
  private refilledAt = Date.now();
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly o: ApiGatewayOptions,
    private readonly server: Server,
  ) {
    this.tokens = o.burst ?? 20;
  }

  static async open(o: ApiGatewayOptions): Promise<ApiGateway> {
    const server = createServer({
      requestTimeout: o.requestTimeoutMs ?? 10_000,
      headersTimeout: o.requestTimeoutMs ?? 10_000,
      maxHeaderSize: 8 * 1024,
    });
    server.maxConnections = o.maxConnections ?? 8;
    const gateway = new ApiGateway(o, server);
    server.on("request", (req, res) => gateway.onRequest(req, res));
    server.on("connection", (s: Socket) => {
      gateway.sockets.add(s);
      s.on("close", () => gateway.sockets.delete(s));
    });
    server.on("clientError", (_err, socket) => socket.destroy());
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: o.address, port: o.port, exclusive: true }, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      throw new AteError(
        Code.FailedPrecondition,
        `the Control API gateway for a worker could not listen on ${o.address}:${o.port}: ${(err as Error).message} (is something else bound to every address of this node on that port?)`,
        [],
        { cause: err },
      );
    }
    server.on("error", () => {});
    return gateway;
  }

  /** Connections from the sandbox open now. */
  get connections(): number {
    return this.sockets.size;
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === "object" && a ? a.port : this.o.port;
  }

  /**
   * Resets every connection from the sandbox (before its checkpoint: see api-drain.ts). Calls
   * under way go on to the API; their answers have nobody to go to.
   */
  resetConnections(): void {
    for (const s of this.sockets) s.resetAndDestroy();
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? "";
    const refuse = (status: number, code: string, message: string) => {
      req.resume(); // what the sandbox still sends is read and dropped, then the socket closes
      res.writeHead(status, { "content-type": "application/json", connection: "close" });
      res.end(JSON.stringify({ code, message }));
    };
    if (req.method !== "POST" || !callPath.test(path))
      return void refuse(
        403,
        "permission_denied",
        `${req.method} ${path.slice(0, 100)}: this address reaches the Control API only (POST /ateapi.Control/<Method>, Connect unary)`,
      );
    if (!actorBearer.test(req.headers.authorization ?? ""))
      return void refuse(
        403,
        "permission_denied",
        'this address takes an actor\'s own token only: send "authorization: Bearer <the contents of /run/ate/token>"',
      );
    const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim() ?? "";
    if (!contentTypes.has(type))
      return void refuse(
        415,
        "invalid_argument",
        `content-type: Unsupported value: ${JSON.stringify(type.slice(0, 100))}: send application/json or application/proto`,
      );
    const max = this.o.maxBodyBytes ?? 64 * 1024;
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > max)
      return void refuse(
        413,
        "resource_exhausted",
        `request body: ${declared} bytes is more than this gateway takes (${max})`,
      );
    if (!this.take())
      return void refuse(
        429,
        "resource_exhausted",
        "too many Control API calls from this actor: slow down and retry",
      );
    if (this.inFlight >= (this.o.maxInFlight ?? 4))
      return void refuse(
        429,
        "resource_exhausted",
        `more than ${this.o.maxInFlight ?? 4} Control API calls from this actor at once`,
      );
    this.inFlight++;
    this.forward(req, res, path, max, refuse).finally(() => {
      this.inFlight--;
    });
  }

  private async forward(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    max: number,
    refuse: (status: number, code: string, message: string) => void,
  ): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > max)
          return void refuse(
            413,
            "resource_exhausted",
            `request body: more than this gateway takes (${max} bytes)`,
          );
        chunks.push(chunk);
      }
    } catch {
      return void res.destroy(); // the sandbox went away or was too slow
    }
    const headers: Record<string, string> = {};
    for (const h of passed) {
      const v = req.headers[h];
      if (typeof v === "string") headers[h] = v;
    }
    let answer: Response;
    try {
      answer = await fetch(new URL(path, this.o.target), {
        method: "POST",
        headers,
        body: Buffer.concat(chunks),
        redirect: "manual",
        signal: AbortSignal.timeout(this.o.callTimeoutMs ?? 10 * 60_000),
      });
    } catch (err) {
      return void refuse(
        503,
        "unavailable",
        `the Control API did not answer: ${(err as Error).message}; retry`,
      );
    }
    const limit = this.o.maxResponseBytes ?? 1024 * 1024;
    const body: Buffer[] = [];
    let got = 0;
    try {
      for await (const chunk of answer.body ?? []) {
        got += chunk.length;
        if (got > limit) {
          await answer.body?.cancel().catch(() => {});
          return void refuse(
            502,
            "internal",
            `the Control API's answer is larger than ${limit} bytes`,
          );
        }
        body.push(Buffer.from(chunk));
      }
    } catch (err) {
      return void refuse(502, "unavailable", `reading the Control API's answer: ${String(err)}`);
    }
    if (res.destroyed) return; // e.g. the actor's own suspend: nobody is left to tell
    const out: Record<string, string> = {};
    for (const h of ["content-type", "connect-protocol-version"]) {
      const v = answer.headers.get(h);
      if (v) out[h] = v;
    }
    res.writeHead(answer.status, out);
    res.end(Buffer.concat(body));
  }

  /** A token of the call rate, if one is left (refilled at ratePerSecond up to burst). */
  private take(): boolean {
    const now = Date.now();
    const rate = this.o.ratePerSecond ?? 5;
    this.tokens = Math.min(
      this.o.burst ?? 20,
      this.tokens + ((now - this.refilledAt) / 1000) * rate,
    );
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
